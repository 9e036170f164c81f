/**
 * `bun run db:generate [drizzle-kit generate flags]`: runs drizzle-kit generate
 * (--name, --custom and the rest pass through), then repairs the file it just
 * wrote (see src/db/migrations/rebuild-repair.ts) and prints what it changed, then runs the
 * migration guard over the whole folder. Then it generates the PostgreSQL series
 * (drizzle.pg.config.ts: src/db/pg-schema.ts into drizzle-pg/) with the same flags.
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

async function kitConfig(args: string[]): Promise<{ out: string; dialect: string }> {
  const config = resolve(root, flag(args, "--config") ?? "drizzle.config.ts");
  const loaded = existsSync(config) ? ((await import(config)) as { default?: { out?: string; dialect?: string } }).default : undefined;
  return { out: flag(args, "--out") ?? loaded?.out ?? "drizzle", dialect: flag(args, "--dialect") ?? loaded?.dialect ?? "sqlite" };
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

  const config = await kitConfig(args);
  // The repair and the guard replay SQLite; a Postgres series is drizzle-kit's output as is.
  if (config.dialect !== "sqlite") return drizzleKitGenerate(args);
  const folder = resolve(root, config.out);
  const before = new Set(journalTags(folder));
  const code = await drizzleKitGenerate(args);
  if (code !== 0) return code;
  const written = journalTags(folder).filter((t) => !before.has(t));
  for (const tag of written) repair(folder, tag);
  if (!guard(folder)) return 1;
  // Both dialects move together: the Postgres series (drizzle.pg.config.ts) follows
  // unless the caller chose one config or folder explicitly.
  if (flag(args, "--config") || flag(args, "--out")) return 0;
  return drizzleKitGenerate(["--config", PG_CONFIG, ...args]);
}

const PG_CONFIG = "drizzle.pg.config.ts";

function drizzleKitGenerate(args: string[]): Promise<number> {
  return Bun.spawn([process.execPath, "x", "drizzle-kit", "generate", ...args], { cwd: root, stdio: ["inherit", "inherit", "inherit"] }).exited;
}

try {
  process.exit(await main(process.argv.slice(2)));
} catch (error) {
  console.error(errorMessage(error));
  if (error instanceof AppError && error.hint) console.error(`  fix: ${error.hint}`);
  process.exit(1);
}
