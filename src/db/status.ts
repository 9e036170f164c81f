import type { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { getTableConfig } from "drizzle-orm/sqlite-core";
import { cmd } from "~/lib/command-name";
import { modeOf, octal } from "~/lib/file-modes";
import { automaticBackups, type BackupTemp, backupTemps } from "./backup";
import { databaseFiles } from "./files";
import { diffShapes, shapeOfDatabase, shapeOfSchema } from "./introspect";
import {
  checkMigrations,
  describeAppliedFinding,
  describeFinding,
  findingHint,
  type LedgerRow,
  loadMigrations,
  type Migration,
  type MigrationPlan,
  planMigrations,
  readLedger,
} from "./migrations";
import { openDatabase } from "./open";
import { type ReplicationStatus, readReplicationStatus } from "./replication";
import * as schema from "./schema";

/** The migrations part of `db status`, the same on both dialects. */
export interface MigrationStatus {
  schemaVersion: number;
  buildVersion: number;
  applied: { version: number; tag: string; appliedAt: string | null }[];
  pending: { version: number; tag: string; statements: number }[];
  modified: { version: number; tag: string; reason: string }[];
}

export function migrationStatus(plan: MigrationPlan, ledgerRows: LedgerRow[]): MigrationStatus {
  const ledger = new Map(ledgerRows.map((r) => [r.version, r]));
  return {
    schemaVersion: plan.dbVersion,
    buildVersion: plan.buildVersion,
    applied: plan.applied.map((m) => {
      const at = ledger.get(m.version)?.appliedAt;
      return { version: m.version, tag: m.tag, appliedAt: at ? new Date(at).toISOString() : null };
    }),
    pending: plan.pending.map((m) => ({ version: m.version, tag: m.tag, statements: m.statements.length })),
    modified: plan.modified.map((m) => ({ version: m.migration.version, tag: m.migration.tag, reason: m.reason })),
  };
}

export interface DbStatus extends MigrationStatus {
  path: string;
  sqliteVersion: string;
  journalMode: string;
  files: { path: string; mode: string }[];
  backups: string[];
  /** Temporary files of backups beside the database: running ones, and stale ones a killed backup left (removed by the next backup or start). */
  backupTemps: BackupTemp[];
  /** Bytes each table takes in the file, its indexes included, largest first (empty when SQLite lacks dbstat). */
  space: { table: string; bytes: number }[];
  /** Stored Responses API answers (user data, kept --responses-retention-days): how many, and the bytes their table takes. */
  storedResponses: { count: number; bytes: number } | null;
  /** Litestream's replication of this database, as the server last saw it (absent when never replicated). */
  replication?: ReplicationStatus;
}

export function statusOf(sqlite: Database, path: string, migrations: Migration[]): { status: DbStatus; plan: MigrationPlan } {
  const plan = planMigrations(sqlite, migrations);
  const files = [dirname(path), ...databaseFiles(path)].filter((f) => existsSync(f)).map((f) => ({ path: f, mode: octal(modeOf(f) ?? 0) }));
  const status: DbStatus = {
    path,
    sqliteVersion: sqlite.query<{ v: string }, []>("SELECT sqlite_version() AS v").get()!.v,
    journalMode: sqlite.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()!.journal_mode,
    ...migrationStatus(plan, readLedger(sqlite)),
    files,
    backups: automaticBackups(path),
    backupTemps: backupTemps(dirname(path)),
    space: [],
    storedResponses: null,
    replication: readReplicationStatus(path),
  };
  status.space = spaceByTable(sqlite);
  status.storedResponses = storedResponsesOf(sqlite, status.space);
  return { status, plan };
}

/** Pages per table (with its indexes) from SQLite's dbstat table; empty when this SQLite was built without it. */
function spaceByTable(sqlite: Database): { table: string; bytes: number }[] {
  try {
    return sqlite
      .query<{ table: string; bytes: number }, []>(
        `SELECT s.tbl_name AS "table", sum(d.pgsize) AS bytes FROM dbstat AS d JOIN sqlite_schema AS s ON s.name = d.name
         WHERE d.aggregate = TRUE GROUP BY s.tbl_name ORDER BY bytes DESC, s.tbl_name`,
      )
      .all();
  } catch {
    return [];
  }
}

function storedResponsesOf(sqlite: Database, space: { table: string; bytes: number }[]): DbStatus["storedResponses"] {
  const table = getTableConfig(schema.responses).name;
  const exists = sqlite.query("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(table);
  if (!exists) return null;
  const { n } = sqlite.query<{ n: number }, []>(`SELECT count(*) AS n FROM "${table}"`).get()!;
  return { count: n, bytes: space.find((s) => s.table === table)?.bytes ?? 0 };
}

/** Every problem `db verify` knows how to find, as sentences; empty means healthy. */
export function verify(sqlite: Database, plan: MigrationPlan, { drift = true }: { drift?: boolean } = {}): string[] {
  const problems: string[] = [];
  const integrity = sqlite.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
  if (integrity.length !== 1 || integrity[0]?.integrity_check !== "ok") {
    problems.push(`integrity_check: ${integrity.map((r) => r.integrity_check).join("; ")}`);
  }
  const fk = sqlite.query<{ table: string; rowid: number; parent: string }, []>("PRAGMA foreign_key_check").all();
  for (const v of fk.slice(0, 20)) problems.push(`foreign key violation: ${v.table} row ${v.rowid} → ${v.parent}`);
  if (plan.dbVersion > plan.buildVersion)
    problems.push(`database schema ${plan.dbVersion} is newer than this build (${plan.buildVersion}): run the newer copilot-api that migrated it`);
  for (const m of plan.modified)
    problems.push(
      `${m.migration.file} changed after it was applied: ${m.reason}; put it back as it was applied (reinstall this version, or \`git checkout drizzle/\`)`,
    );
  // Every migration file of this build, replayed on :memory:: applied ones may have written a column's name into rows.
  for (const f of checkMigrations([...plan.applied, ...plan.pending]).findings) {
    problems.push(
      f.migration.version <= plan.dbVersion ? describeAppliedFinding(f) : `${describeFinding(f)}\n    the runner refuses it; fix: ${findingHint(f)}`,
    );
  }
  if (plan.pending.length > 0) {
    problems.push(`${plan.pending.length} migration(s) pending, from ${plan.pending[0]!.file}: run \`${cmd("db migrate")}\``);
  } else if (drift && plan.dbVersion === plan.buildVersion) {
    for (const drift of diffShapes(shapeOfSchema(schema), shapeOfDatabase(sqlite)))
      problems.push(`schema drift: ${drift} (changed outside the migrations: restore a backup, or undo the change by hand)`);
  }
  return problems;
}

export interface DatabaseCheck {
  /** Everything `db verify` finds, except migrations still to apply (a start applies them) and schema drift. */
  problems: string[];
  schemaVersion: number;
  buildVersion: number;
  pending: number;
}

/** `db verify`'s checks on a database file that no server uses yet (a restored copy): integrity, foreign keys, schema version against this build. */
export function checkDatabaseFile(path: string, env: Record<string, string | undefined>): DatabaseCheck {
  const migrations = loadMigrations(env);
  const { sqlite } = openDatabase(path, { create: false, env });
  try {
    const { plan } = statusOf(sqlite, path, migrations);
    return {
      // Not schema drift: a restored copy is judged on what it holds, not on tables added by hand.
      problems: verify(sqlite, { ...plan, pending: [] }, { drift: false }),
      schemaVersion: plan.dbVersion,
      buildVersion: plan.buildVersion,
      pending: plan.pending.length,
    };
  } finally {
    sqlite.close();
  }
}
