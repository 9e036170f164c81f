// The migration guard's cost on a boot that has something pending: replaying
// every migration this build carries on :memory:, checking each statement,
// against opening and closing an empty in-memory database.
import { Database } from "bun:sqlite";
import { checkMigrations, loadMigrations } from "~/db/migrations";
import { printTable, summarize } from "./lib";

const RUNS = 200;

function msPerRun(fn: () => void): number[] {
  fn(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    fn();
    samples.push(performance.now() - started);
  }
  return samples;
}

export function benchMigrationGuard(): void {
  const migrations = loadMigrations({});
  const statements = migrations.reduce((n, m) => n + m.statements.length, 0);
  const baseline = msPerRun(() => new Database(":memory:").close());
  const guard = msPerRun(() => {
    if (checkMigrations(migrations).findings.length > 0) throw new Error("the build's migrations fail the guard");
  });
  printTable(
    `Migration guard (${RUNS} runs; ${migrations.length} migrations, ${statements} statements)`,
    "ms",
    summarize("open and close :memory:", baseline),
    [summarize("replay and check every migration on :memory:", guard)],
  );
}
