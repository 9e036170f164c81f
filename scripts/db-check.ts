/**
 * The drift gate (`bun run db:check`), on both dialects: fails when schema.ts
 * (or pg-schema.ts) holds a change no migration in drizzle/ (or drizzle-pg/)
 * carries, when drizzle-kit's own snapshot check fails, or when a SQLite
 * migration would read a double-quoted name as text (src/db/migrations/guard.ts:
 * every file is replayed on an in-memory database, hand-written ones included).
 * That the two dialects declare the same tables is tests/db/pg-dialect.test.ts's job.
 *
 * drizzle-kit has no dry run, so generate runs against a throw-away copy of the
 * migrations folder and any file it writes there is the drift.
 * DB_CHECK_SCHEMA / DB_CHECK_OUT and DB_CHECK_PG_SCHEMA / DB_CHECK_PG_OUT point it
 * at another schema and folder (tests); DB_CHECK_ONLY=sqlite (or postgresql) checks that
 * dialect alone (a test about one dialect need not pay for drizzle-kit on the other).
 */
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { checkMigrations, describeFinding, findingHint, fromSources, readMigrationFolder } from "../src/db/migrations";

const root = join(import.meta.dir, "..");
const only = process.env.DB_CHECK_ONLY;
const series = (
  [
    { dialect: "sqlite", schema: process.env.DB_CHECK_SCHEMA ?? "src/db/schema.ts", out: process.env.DB_CHECK_OUT ?? "drizzle" },
    { dialect: "postgresql", schema: process.env.DB_CHECK_PG_SCHEMA ?? "src/db/pg-schema.ts", out: process.env.DB_CHECK_PG_OUT ?? "drizzle-pg" },
  ] as const
).filter((s) => !only || s.dialect === only);

function drizzleKit(args: string[]): { code: number; output: string } {
  const result = Bun.spawnSync([process.execPath, "x", "drizzle-kit", ...args], {
    cwd: root,
    stdin: "ignore",
    env: { ...process.env, FORCE_COLOR: "0" },
  });
  return { code: result.exitCode ?? 1, output: `${result.stdout}${result.stderr}` };
}

/** SQLite only: every migration replayed on :memory:, looking for double-quoted names read as text. */
function guardFailures(out: string): string[] {
  const { findings, failure } = checkMigrations(fromSources(readMigrationFolder(join(root, out)), out));
  const problems = findings.map((f) => `${describeFinding(f)}\n  fix: ${findingHint(f)}`);
  if (failure) {
    problems.push(
      `${failure.migration.file} statement ${failure.index + 1} (line ${failure.statement.line}) fails on a fresh database: ${failure.message}\n` +
        "  fix: every migration must apply on an empty database after the ones before it; correct the file (or, if applied nowhere yet, regenerate it)",
    );
  }
  return problems;
}

/** drizzle-kit's snapshot check and a generate into a copy of the folder: what schema holds that out/ lacks. */
function driftFailures(dialect: string, schema: string, out: string): string[] {
  const problems: string[] = [];
  // drizzle-kit 0.31 mangles absolute --out paths, so the copy lives under the project.
  const scratch = join(root, ".tmp", `db-check-${process.pid}-${dialect}`);
  try {
    mkdirSync(join(root, ".tmp"), { recursive: true });
    cpSync(join(root, out), scratch, { recursive: true });
    const copy = relative(root, scratch);
    const check = drizzleKit(["check", "--dialect", dialect, "--out", copy]);
    if (check.code !== 0) problems.push(`drizzle-kit check failed on ${out}/:\n${check.output}`);

    const before = new Set(readdirSync(scratch));
    const generate = drizzleKit(["generate", "--dialect", dialect, "--schema", schema, "--out", copy]);
    const written = readdirSync(scratch).filter((f) => !before.has(f));
    if (generate.code !== 0) {
      problems.push(`drizzle-kit generate failed on ${out}/:\n${generate.output}`);
    } else if (written.length > 0 || !generate.output.includes("No schema changes")) {
      // drizzle-kit exits 0 even when it gives up on a rename question it cannot ask
      // without a terminal, so only its explicit "No schema changes" counts as clean.
      const what =
        written.length > 0
          ? `drizzle-kit would write ${written.join(", ")}`
          : `drizzle-kit could not decide without asking:\n${generate.output.trim().split("\n")[0]}`;
      problems.push(
        `${schema} has changes that no migration in ${out}/ carries (${what}).\n` +
          "Run `bun run db:generate` in a terminal, review the SQL, and commit it with the schema change.",
      );
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return problems;
}

const problems = series.flatMap(({ dialect, schema, out }) => [...(dialect === "sqlite" ? guardFailures(out) : []), ...driftFailures(dialect, schema, out)]);
for (const problem of problems) console.error(problem);
if (problems.length > 0) process.exit(1);
console.log(
  `db:check ok: ${series.map((s) => `${s.schema} matches the migrations in ${s.out}/`).join(", ")}, the snapshots are consistent, and no migration reads a double-quoted name as text`,
);
