import { chmodSync, existsSync, linkSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { defineCommand } from "citty";
import { allDatabaseFiles, auditDatabaseFile, checkDatabaseFile } from "~/db";
import { dbPathArg, guarded } from "~/lib/cli";
import { AppError, errorMessage } from "~/lib/errors";
import { FILE_MODE, FOLDER_MODE } from "~/lib/file-modes";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { findLitestream, litestreamConfig, replicaTarget } from "./litestream";
import { DEFAULT_SYNC_INTERVAL_MS } from "./worker";

export interface RestoreOptions {
  from: string;
  /** The new database file; never an existing one. */
  to: string;
  /** Restore the database as it was at this time. */
  timestamp?: Date;
  binary?: string;
  /** Where COPILOT_API_LITESTREAM and Litestream's own settings (S3 credentials) are read; process.env by default. */
  env?: Record<string, string | undefined>;
}

export interface RestoreResult {
  path: string;
  schemaVersion: number;
  buildVersion: number;
  pending: number;
}

/**
 * Litestream restores the replica into a temporary file beside the target; the copy
 * is checked (integrity, foreign keys, migration hashes, schema version against this
 * build) and only then linked to its name, which fails if anything holds that name:
 * a restore never overwrites a database, a live one least of all.
 */
export async function restoreDatabase(options: RestoreOptions): Promise<RestoreResult> {
  const target = replicaTarget(options.from, "--from");
  const to = resolve(options.to);
  const taken = allDatabaseFiles(to).find((f) => existsSync(f));
  if (taken) {
    throw new AppError(
      `${taken} already exists; a restore never overwrites a database`,
      "pass a new file with --to; once it is checked, stop the server and move it into place (or start with --db-path)",
    );
  }
  const folder = dirname(to);
  if (!existsSync(folder)) mkdirSync(folder, { recursive: true, mode: FOLDER_MODE });
  const binary = options.binary ?? findLitestream(options.env);
  const tmp = `${to}.restoring-${process.pid}`;
  const config = `${tmp}.yml`;
  const cleanUp = () => {
    // Litestream writes `<tmp>.tmp` and renames it; SQLite may leave side files beside either.
    for (const file of [...allDatabaseFiles(tmp), ...allDatabaseFiles(`${tmp}.tmp`)]) rmSync(file, { force: true });
    rmSync(config, { force: true });
  };
  try {
    writeFileSync(config, litestreamConfig(to, target, { syncIntervalMs: DEFAULT_SYNC_INTERVAL_MS }), { mode: FILE_MODE });
    const args = [binary, "restore", "-config", config, "-no-expand-env", "-o", tmp];
    if (options.timestamp) args.push("-timestamp", options.timestamp.toISOString());
    const run = Bun.spawnSync([...args, to], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: options.env });
    if (run.exitCode !== 0 || !existsSync(tmp)) {
      const said = `${run.stderr.toString()}\n${run.stdout.toString()}`.trim().split("\n").slice(-3).join(" / ").slice(0, 500);
      throw new AppError(
        `litestream could not restore from ${target.display}${options.timestamp ? ` at ${options.timestamp.toISOString()}` : ""}: ${said || `exit ${run.exitCode}`}`,
        /no (matching )?backups|no generation|no snapshot/i.test(said)
          ? options.timestamp
            ? "pick a time when a server was replicating: `litestream generations <URL>` lists each generation's start and end"
            : "check --from: it is the URL that was given to --replicate-to"
          : "check --from and the credentials in the environment (LITESTREAM_ACCESS_KEY_ID / LITESTREAM_SECRET_ACCESS_KEY for S3)",
      );
    }
    chmodSync(tmp, FILE_MODE);
    const check = await checkDatabaseFile(tmp, options.env ?? process.env);
    if (check.problems.length > 0) {
      throw new AppError(
        `the restored copy failed its checks, so it was not kept:\n  - ${check.problems.join("\n  - ")}`,
        check.schemaVersion > check.buildVersion
          ? "the replica holds a newer schema than this build: restore with the copilot-api version that wrote it (or a newer one)"
          : "try an earlier --timestamp, or another replica",
      );
    }
    // Into the checked copy before it takes its name: the restored store says where it came from.
    auditDatabaseFile(tmp, "db.restore", to, { from: target.display, timestamp: options.timestamp?.toISOString() ?? null });
    try {
      linkSync(tmp, to);
    } catch (error) {
      throw new AppError(`cannot create ${to}: ${errorMessage(error)}`, "pass a new file on a local disk with --to");
    }
    return { path: to, schemaVersion: check.schemaVersion, buildVersion: check.buildVersion, pending: check.pending };
  } finally {
    cleanUp();
  }
}

function parseTimestamp(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new AppError(`--timestamp ${value.slice(0, 100)} is not a time`, "write it in RFC 3339, e.g. 2026-11-26T12:00:00Z");
  return new Date(ms);
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, "-");

export const restoreCommand = defineCommand({
  meta: { name: "restore", description: "Restore the database from a Litestream replica into a new file, and check it" },
  args: {
    from: { type: "string", required: true, description: "the replica's URL (what --replicate-to was: file:///folder, s3://bucket/path …)", valueHint: "URL" },
    to: { type: "string", description: "the new database file (default: beside the database, named by time); never an existing file", valueHint: "FILE" },
    timestamp: { type: "string", description: "restore the database as it was at this time (RFC 3339, e.g. 2026-11-26T12:00:00Z)", valueHint: "TIME" },
    ...dbPathArg,
  },
  run: guarded(async ({ args }, io) => {
    const to = args.to ? args.to : join(dirname(dbPath(args["db-path"], io.env)), `copilot-api.restored-${stamp()}.db`);
    const result = await restoreDatabase({ from: args.from, to, timestamp: parseTimestamp(args.timestamp), env: io.env });
    const pending = result.pending > 0 ? `; ${result.pending} migration(s) of this build are still to apply (start applies them)` : "";
    log.success(`restored to ${result.path} (schema ${result.schemaVersion} of ${result.buildVersion} in this build, integrity_check ok, mode 0600${pending})`);
    log.info(`to use it: stop the server, then start it with --db-path ${result.path} (or move the file into place with its server stopped)`);
  }),
});
