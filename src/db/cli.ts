import { existsSync } from "node:fs";
import { defineCommand } from "citty";
import { type CliIo, databaseUrl, databaseUrlArg, dbPathArg, guarded } from "~/lib/cli";
import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { openStore } from ".";
import { auditStoreAction } from "./audit";
import { backupDatabase, manualBackupName } from "./backup";
import { assertMigratable, loadMigrations, loadPgMigrations } from "./migrations";
import { openDatabase } from "./open";
import { connectPostgres, type PgConnection } from "./pg/connect";
import { copyToPostgres } from "./pg/copy";
import { applyPgMigrations } from "./pg/runner";
import { type PgStatus, pgStatusOf, pgVerify } from "./pg/status";
import { openPgStore } from "./postgres";
import type { ReplicationStatus } from "./replication";
import { type DbStatus, type MigrationStatus, statusOf, verify } from "./status";

/** Opens an existing database for inspection, runs fn, and always closes it. */
function inspect<T>(path: string, env: CliIo["env"], fn: (opened: ReturnType<typeof openDatabase>) => T): T {
  const opened = openDatabase(path, { create: false, env });
  try {
    return fn(opened);
  } finally {
    opened.sqlite.close();
  }
}

/** Connects to a Postgres store, runs fn, and always disconnects. */
async function onPostgres<T>(url: string, fn: (conn: PgConnection) => Promise<T>): Promise<T> {
  const conn = await connectPostgres(url);
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

function migrationLines(s: MigrationStatus): string[] {
  return [
    `schema        ${s.schemaVersion} of ${s.buildVersion} in this build${s.schemaVersion > s.buildVersion ? "  (NEWER THAN THIS BUILD: run the newer copilot-api that migrated it)" : ""}`,
    `applied       ${s.applied.length}`,
    ...s.applied.map((m) => `  ${String(m.version).padStart(4)}  ${m.tag}  ${m.appliedAt ?? "(no ledger row)"}`),
    `pending       ${s.pending.length}${s.pending.length ? `  (applied by \`${cmd("db migrate")}\` or the next start)` : ""}`,
    ...s.pending.map((m) => `  ${String(m.version).padStart(4)}  ${m.tag}  (${m.statements} statements)`),
    `modified      ${s.modified.length}${s.modified.length ? "  (an applied migration file changed: put it back as it was applied, e.g. reinstall this version or `git checkout drizzle/`)" : ""}`,
    ...s.modified.map((m) => `  ${String(m.version).padStart(4)}  ${m.tag}: ${m.reason}`),
  ];
}

function pgStatusText(s: PgStatus): string {
  const lines = [`database      ${s.database}`, `server        ${s.server}`, ...migrationLines(s)];
  return lines.join("\n");
}

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(2)} MiB`;

function statusText(s: DbStatus): string {
  const lines = [
    `database      ${s.path}`,
    `sqlite        ${s.sqliteVersion}, journal_mode=${s.journalMode}`,
    ...migrationLines(s),
    "files",
    ...s.files.map((f) => `  ${f.mode}  ${f.path}`),
    `backups       ${s.backups.length}`,
    ...s.backups.map((b) => `  ${b}`),
    `backup temps  ${s.backupTemps.length}`,
    ...s.backupTemps.map((t) =>
      t.stale
        ? `  ${t.path}  (stale: left by a backup that did not finish; the next backup or start removes it)`
        : `  ${t.path}  (backup in progress, pid ${t.pid})`,
    ),
    ...(s.storedResponses ? [`stored responses  ${s.storedResponses.count}, ${mib(s.storedResponses.bytes)} on disk (--responses-retention-days)`] : []),
    "space by table",
    ...s.space.map((t) => `  ${mib(t.bytes).padStart(10)}  ${t.table}`),
    ...replicationLines(s.replication),
  ];
  return lines.join("\n");
}

function replicationLines(r: ReplicationStatus | undefined): string[] {
  if (!r) return ["replication   off (start --replicate-to URL turns it on)"];
  const ago = (iso: string) => `${iso} (${((Date.now() - Date.parse(iso)) / 1000).toFixed(1)} s ago)`;
  return [
    `replication   ${r.replica}, ${r.live ? `litestream ${r.litestreamVersion ?? ""} running (pid ${r.pid ?? "starting"})` : `not running (last seen ${r.updatedAt})`}`,
    `  last sync   ${r.lastSyncAt ? ago(r.lastSyncAt) : "none yet"}${r.generation ? `, generation ${r.generation}` : ""}`,
    `  lag         ${r.lagMs === undefined ? "unknown" : `${(r.lagMs / 1000).toFixed(1)} s (last database write less last sync)`}`,
    `  restarts    ${r.restarts}${r.lastError ? `; last error: ${r.lastError}` : ""}`,
  ];
}

const status = defineCommand({
  meta: { name: "status", description: "Show the database's schema version, migrations and file modes" },
  args: { ...dbPathArg, ...databaseUrlArg, json: { type: "boolean", description: "print JSON", default: false } },
  run: guarded(async ({ args }, io) => {
    const url = databaseUrl(args["database-url"], io.env);
    if (url) {
      const s = await onPostgres(url, async ({ db, shown }) => (await pgStatusOf(db, shown, loadPgMigrations(io.env))).status);
      if (args.json) io.print(JSON.stringify(s, null, 2));
      else io.print(pgStatusText(s));
      return;
    }
    const s = inspect(dbPath(args["db-path"], io.env), io.env, ({ sqlite, path }) => statusOf(sqlite, path, loadMigrations(io.env)).status);
    if (args.json) io.print(JSON.stringify(s, null, 2));
    else io.print(statusText(s));
  }),
});

const migrate = defineCommand({
  meta: { name: "migrate", description: "Apply pending migrations now (start does this too)" },
  args: { ...dbPathArg, ...databaseUrlArg, "dry-run": { type: "boolean", description: "show what would be applied; write nothing", default: false } },
  run: guarded(async ({ args }, io) => {
    const url = databaseUrl(args["database-url"], io.env);
    if (url) return migratePostgres(url, args["dry-run"], io);
    const path = dbPath(args["db-path"], io.env);
    const migrations = loadMigrations(io.env);
    if (args["dry-run"]) {
      const pending = existsSync(path)
        ? inspect(path, io.env, ({ sqlite }) => {
            const { plan } = statusOf(sqlite, path, migrations);
            assertMigratable(plan);
            return plan.pending;
          })
        : migrations;
      if (pending.length === 0) io.print("nothing to apply");
      for (const m of pending) io.print(`would apply ${m.file} (schema ${m.version}, ${m.statements.length} statements)`);
      return;
    }
    const store = openStore({ path, migrations, env: io.env });
    store.close();
  }),
});

async function migratePostgres(url: string, dryRun: boolean, io: CliIo): Promise<void> {
  await onPostgres(url, async ({ db, shown }) => {
    const migrations = loadPgMigrations(io.env);
    if (dryRun) {
      const { plan } = await pgStatusOf(db, shown, migrations);
      assertMigratable(plan);
      if (plan.pending.length === 0) io.print("nothing to apply");
      for (const m of plan.pending) io.print(`would apply ${m.file} (schema ${m.version}, ${m.statements.length} statements)`);
      return;
    }
    const applied = await applyPgMigrations(db, migrations, { target: shown, onApplied: (m, ms) => log.info(`applied ${m.file} in ${ms.toFixed(0)} ms`) });
    log.success(`${shown}: ${applied.length === 0 ? "already up to date" : `${applied.length} migration(s) applied`} (schema ${migrations.length})`);
  });
}

const backup = defineCommand({
  meta: { name: "backup", description: "Write a consistent, checked snapshot of the live database" },
  args: {
    ...dbPathArg,
    ...databaseUrlArg,
    out: { type: "string", description: "backup file (default: beside the database, named by time)", valueHint: "FILE" },
  },
  run: guarded(({ args }, io) => {
    if (databaseUrl(args["database-url"], io.env)) {
      throw new AppError(
        "db backup writes SQLite snapshots; it does not back up a PostgreSQL store",
        "use PostgreSQL's own tools: `pg_dump --format=custom --file=copilot-api.dump <url>` (restore with pg_restore), or your provider's backups / point-in-time recovery",
      );
    }
    const path = dbPath(args["db-path"], io.env);
    const out = args.out ? args.out : manualBackupName(path);
    const result = inspect(path, io.env, ({ sqlite }) => {
      const written = backupDatabase(sqlite, out);
      auditStoreAction(sqlite, "db.backup", path, { file: written.path, bytes: written.bytes });
      return written;
    });
    log.success(`backup written to ${result.path} (${result.bytes} bytes, integrity_check ok, mode 0600)`);
  }),
});

const verifyCommand = defineCommand({
  meta: { name: "verify", description: "Check integrity, foreign keys, migration hashes, file modes and schema drift" },
  args: { ...dbPathArg, ...databaseUrlArg },
  run: guarded(async ({ args }, io) => {
    const url = databaseUrl(args["database-url"], io.env);
    const problems = url
      ? await onPostgres(url, async ({ db, shown }) => pgVerify(db, (await pgStatusOf(db, shown, loadPgMigrations(io.env))).plan))
      : inspect(dbPath(args["db-path"], io.env), io.env, ({ sqlite, path, tightened }) => [
          ...tightened.map((t) => `${t.path} had mode ${t.tightenedFrom} (now ${t.mode})`),
          ...verify(sqlite, statusOf(sqlite, path, loadMigrations(io.env)).plan),
        ]);
    if (problems.length === 0) {
      log.success("database verified: integrity, foreign keys, migration hashes, file modes and schema all ok");
      return;
    }
    throw new AppError(
      `${problems.length} problem(s) found:\n  - ${problems.join("\n  - ")}`,
      "see each line; restore from a backup (`db backup` files, *.bak beside the database) if the file is damaged",
    );
  }),
});

const migrateTo = defineCommand({
  meta: { name: "migrate-to", description: "Copy the SQLite store into an empty PostgreSQL database (stop the server first), then start with --database-url" },
  args: {
    url: { type: "positional", description: "the PostgreSQL database: postgres://user:password@host:5432/database", required: true },
    ...dbPathArg,
  },
  run: guarded(async ({ args }, io) => {
    const path = dbPath(args["db-path"], io.env);
    if (!existsSync(path)) throw new AppError(`no database at ${path}`, "pass --db-path FILE (or COPILOT_API_DB_PATH) naming the SQLite store to copy");
    const store = openStore({ path, env: io.env });
    try {
      // The target is migrated to this build's schema first: the two stores then have the same tables.
      const pg = await openPgStore(args.url);
      // One read transaction: every table is copied as of the same moment, even if a server still writes.
      store.sqlite.run("BEGIN");
      try {
        const copied = await copyToPostgres(store.db, pg.db, pg.shown);
        for (const [table, n] of copied) io.print(`${String(n).padStart(10)}  ${table}`);
        log.success(`copied ${path} into ${pg.shown}; start the gateways with --database-url (or COPILOT_API_DATABASE_URL)`);
      } finally {
        store.sqlite.run("ROLLBACK");
        await pg.close();
      }
    } finally {
      store.close();
    }
  }),
});

export const dbCommand = defineCommand({
  meta: { name: "db", description: "Inspect, migrate, back up and verify the local database" },
  subCommands: { status, migrate, backup, verify: verifyCommand, "migrate-to": migrateTo },
});
