// `bun run lint`: runs every check, each one even when an earlier one failed (so one
// failure never hides what a later check would say), then exits 1 if any failed.
// Each check is also a script of its own: `bun run lint:format`, `lint:code`, …
const CHECKS = [
  ["lint:format", "Biome: formatting and import order (`bun run format` fixes both)"],
  ["lint:code", "Biome: lint rules"],
  ["lint:arch", "dependency-cruiser: architecture rules (.dependency-cruiser.cjs)"],
  ["lint:unused", "knip: unused files, exports and dependencies"],
] as const;

const failed: string[] = [];
for (const [script, what] of CHECKS) {
  console.log(`\n== ${script}: ${what}`);
  const { exitCode } = Bun.spawnSync([process.execPath, "run", script], { stdout: "inherit", stderr: "inherit", stdin: "ignore" });
  if (exitCode !== 0) failed.push(`${script} (exit ${exitCode})`);
}

console.log(failed.length ? `\nlint: ${failed.length} of ${CHECKS.length} checks failed: ${failed.join(", ")}` : `\nlint: all ${CHECKS.length} checks passed`);
process.exit(failed.length ? 1 : 0);
