/**
 * `bun run db:generate [drizzle-kit generate flags]`: runs drizzle-kit generate
 * (--name, --custom and the rest pass through), then repairs the file it just
 * wrote (see src/db/migrations/rebuild-repair.ts) and prints what it changed, then runs the
 * migration guard over the whole folder.
 *
 * `bun run db:generate --repair drizzle/NNNN_x.sql` repairs an existing file
 * that has not been applied anywhere yet (applied migrations are immutable).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { checkMigrations, describeFinding, describeRepair, findingHint, fromSources, readMigrationFolder, repairRebuilds } from "../src/db/migrations";
import { AppError, errorMessage } from "../src/lib/errors";

const root = join(import.meta.dir, "..");

function flag(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i === -1) return undefined;
  const arg = args[i]!;
  return arg.includes("=") ? arg.slice(name.length + 1) : args[i + 1];
}

async function outFolder(args: string[]): Promise<string> {
  const out = flag(args, "--out");
  if (out) return out;
  const config = resolve(root, flag(args, "--config") ?? "drizzle.config.ts");
  const loaded = existsSync(config) ? ((await import(config)) as { default?: { out?: string } }).default : undefined;
  return loaded?.out ?? "drizzle";
}

function journalTags(folder: string): string[] {
  const journal = join(folder, "meta", "_journal.json");
  if (!existsSync(journal)) return [];
  return (JSON.parse(readFileSync(journal, "utf8")) as { entries: { tag: string }[] }).entries.map((e) => e.tag);
}

/** Repairs one migration of the folder in place; returns how many statements changed. */
function repair(folder: string, tag: string): number {
  const sources = readMigrationFolder(folder);
  const index = sources.findIndex((s) => s.tag === tag);
  if (index === -1)
    throw new AppError(`${tag} is not listed in ${folder}/meta/_journal.json`, "pass a migration file that drizzle-kit generated into that folder");
  const display = relative(root, folder) || ".";
  const file = join(folder, `${tag}.sql`);
  const name = `${display}/${tag}.sql`;
  const { sql, repairs } = repairRebuilds(fromSources(sources.slice(0, index), display), name, sources[index]!.sql);
  for (const r of repairs) console.log(describeRepair(name, r));
  if (repairs.length > 0) writeFileSync(file, sql);
  else console.log(`${name}: no table rebuild copies a column the old table lacks; nothing to repair`);
  return repairs.length;
}

/** The guard over the whole folder: true when every migration passes. */
function guard(folder: string): boolean {
  const display = relative(root, folder) || ".";
  const { findings, failure } = checkMigrations(fromSources(readMigrationFolder(folder), display));
  for (const f of findings) console.error(`${describeFinding(f)}\n  fix: ${findingHint(f)}`);
  if (failure)
    console.error(`${failure.migration.file} statement ${failure.index + 1} (line ${failure.statement.line}) fails on a fresh database: ${failure.message}`);
  return findings.length === 0 && !failure;
}

async function main(args: string[]): Promise<number> {
  const repairTarget = flag(args, "--repair");
  if (repairTarget) {
    const file = resolve(root, repairTarget);
    const folder = dirname(file);
    repair(folder, basename(file, ".sql"));
    return guard(folder) ? 0 : 1;
  }

  const folder = resolve(root, await outFolder(args));
  const before = new Set(journalTags(folder));
  const kit = Bun.spawn([process.execPath, "x", "drizzle-kit", "generate", ...args], { cwd: root, stdio: ["inherit", "inherit", "inherit"] });
  const code = await kit.exited;
  if (code !== 0) return code;
  const written = journalTags(folder).filter((t) => !before.has(t));
  for (const tag of written) repair(folder, tag);
  return guard(folder) ? 0 : 1;
}

try {
  process.exit(await main(process.argv.slice(2)));
} catch (error) {
  console.error(errorMessage(error));
  if (error instanceof AppError && error.hint) console.error(`  fix: ${error.hint}`);
  process.exit(1);
}
