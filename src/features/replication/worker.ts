import { chmodSync, existsSync, mkdirSync, readFileSync, statfsSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  dropLitestreamShadow,
  lastWriteMs,
  litestreamConfigFile,
  litestreamLocalBytes,
  type ReplicationState,
  readReplicationStatus,
  replicationFolder,
  type Store,
  writeReplicationState,
} from "~/db";
import { errorMessage } from "~/lib/errors";
import { FILE_MODE, FOLDER_MODE } from "~/lib/file-modes";
import { log } from "~/lib/log";
import type { Worker } from "~/lib/worker";
import { litestreamConfig, type ReplicaTarget } from "./litestream";

export interface ReplicationOptions {
  /** The litestream binary (findLitestream()). */
  binary: string;
  /** Litestream ships the WAL to the replica within about this long of a commit. */
  syncIntervalMs?: number;
  /** First delay before restarting a Litestream that died; doubled after each death, up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Litestream's local folder (its shadow WAL, which grows while the replica cannot be
   * written) may reach this many bytes; past it replication is stopped. Default: the
   * smaller of DEFAULT_MAX_LOCAL_BYTES and a quarter of the disk space free at start
   * (the database's WAL grows beside it, and the check comes every LOCAL_CHECK_MS).
   */
  maxLocalBytes?: number;
  /** /healthz says degraded once nothing reached the replica this long while the database changed or Litestream erred. */
  degradedAfterMs?: number;
}

export const DEFAULT_SYNC_INTERVAL_MS = 1000;
/** A Litestream that ran this long before dying is restarted after the first delay again. */
const HEALTHY_RUN_MS = 60_000;
/** Litestream's final sync on SIGTERM; past this it is killed (the next start begins a new generation anyway). */
const STOP_TIMEOUT_MS = 15_000;
const MAX_ERROR = 300;
export const DEFAULT_MAX_LOCAL_BYTES = 256 * 1024 * 1024;
const DEFAULT_DEGRADED_AFTER_MS = 60_000;
/** Litestream exiting this many times in a row (no sync, no healthy run between) makes /healthz degraded. */
const DEATHS_BEFORE_DEGRADED = 3;
const MB = 1024 * 1024;
/** How often the local folder's size is checked: under a burst of writes it grows by megabytes a second. */
const LOCAL_CHECK_MS = 250;
const DISK_FULL = /no space left on device|ENOSPC/i;

type LitestreamLine = { msg?: string; level?: string; time?: string; error?: string; position?: string; generation?: string; version?: string };

/**
 * Runs Litestream as a child process replicating the store to a replica: started
 * after the port opens, restarted with backoff when it dies, stopped (after the
 * final event flush, so its final sync carries the last events) before the store
 * closes. While it runs the store's checkpoints are Litestream's (see src/db/replication.ts).
 * What it sees (last sync, generation, errors) goes to a state file `db status` reads.
 */
export class ReplicationWorker implements Worker {
  private readonly syncIntervalMs: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private child: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
  private running: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopping = false;
  private delayMs: number;
  private state: ReplicationState;
  private readonly maxLocalBytes: number;
  private readonly degradedAfterMs: number;
  private watch: ReturnType<typeof setInterval> | undefined;
  private startedAt = Date.now();
  private lastErrorAt = 0;
  private deathsInARow = 0;
  /** Why replication was stopped for good (the local folder past its limit); undefined while it runs. */
  private halted: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly target: ReplicaTarget,
    private readonly options: ReplicationOptions,
  ) {
    this.syncIntervalMs = options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
    this.backoffMs = options.backoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.delayMs = this.backoffMs;
    this.maxLocalBytes = options.maxLocalBytes ?? Math.min(DEFAULT_MAX_LOCAL_BYTES, Math.floor(freeBytes(dirname(store.path)) / 4));
    this.degradedAfterMs = options.degradedAfterMs ?? DEFAULT_DEGRADED_AFTER_MS;
    this.state = { replica: target.display, serverPid: process.pid, running: false, restarts: 0, updatedAt: new Date().toISOString() };
  }

  start(): void {
    const folder = replicationFolder(this.store.path);
    if (!existsSync(folder)) mkdirSync(folder, { recursive: true, mode: FOLDER_MODE });
    const config = litestreamConfigFile(this.store.path);
    writeFileSync(config, litestreamConfig(this.store.path, this.target, { syncIntervalMs: this.syncIntervalMs }), { mode: FILE_MODE });
    chmodSync(config, FILE_MODE);
    this.startedAt = Date.now();
    this.running = this.stopOrphan().then(() => this.spawn());
    this.watch = setInterval(() => this.checkLocalSize(), LOCAL_CHECK_MS);
    this.watch.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    clearInterval(this.watch);
    await this.running;
    await this.endChild();
    this.store.handOverCheckpoints(false);
    this.save({ running: false, pid: undefined });
  }

  /**
   * Why /healthz should not say ok: replication stopped for good, Litestream exiting
   * again and again, or nothing reaching the replica for a while although the database
   * changed (or Litestream reported errors) since the last sync.
   */
  problems(now = Date.now()): string[] {
    if (this.halted) return [this.halted];
    const problems: string[] = [];
    const last = this.state.lastError ? ` (last: ${this.state.lastError})` : "";
    if (this.deathsInARow >= DEATHS_BEFORE_DEGRADED) problems.push(`replication: litestream exited ${this.deathsInARow} times in a row${last}`);
    const syncedAt = this.state.lastSyncAt ? Date.parse(this.state.lastSyncAt) : this.startedAt;
    const behind = Math.max(this.lastErrorAt, Math.min(lastWriteMs(this.store.path), now)) > syncedAt;
    if (behind && now - syncedAt > this.degradedAfterMs) {
      const since = this.state.lastSyncAt ? `since ${this.state.lastSyncAt}` : "since the server started";
      problems.push(`replication: nothing reached ${this.target.display} ${since}${last}`);
    }
    return problems;
  }

  private checkLocalSize(): void {
    if (this.halted || this.stopping) return;
    const bytes = litestreamLocalBytes(this.store.path);
    if (bytes <= this.maxLocalBytes) return;
    const synced = this.state.lastSyncAt ? `its last sync was at ${this.state.lastSyncAt}` : "nothing reached it since the server started";
    const last = this.state.lastError ? `; Litestream's last error: ${this.state.lastError}` : "";
    this.halt(
      `Litestream's local copy of the WAL reached ${(bytes / MB).toFixed(1)} MiB (limit ${(this.maxLocalBytes / MB).toFixed(1)} MiB) ` +
        `because the replica ${this.target.display} is not being written (${synced}${last}); fix the replica (URL, network, credentials), then restart copilot-api`,
    );
  }

  /** Replication stops for good (until a restart), loudly, and gives the disk back: the database must not starve for Litestream. */
  private halt(why: string): void {
    if (this.halted || this.stopping) return;
    this.halted = `replication stopped: ${why}`;
    log.error(`${this.halted}. The database is unaffected: its checkpoints are the server's again, and Litestream's local copy was removed.`);
    if (this.timer) clearTimeout(this.timer);
    this.running = (this.running ?? Promise.resolve()).then(async () => {
      await this.endChild();
      dropLitestreamShadow(this.store.path);
      this.store.handOverCheckpoints(false);
      this.save({ running: false, pid: undefined, lastError: this.halted?.slice(0, MAX_ERROR) });
    });
  }

  /** Stops Litestream (SIGTERM: its final sync; SIGKILL past STOP_TIMEOUT_MS). */
  private async endChild(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(STOP_TIMEOUT_MS).then(() => false)]);
      if (!exited) {
        log.warn(
          `litestream did not stop within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM; killed it (its last sync may be missing; the next start snapshots the database)`,
        );
        child.kill("SIGKILL");
        await child.exited;
      }
    }
  }

  /**
   * A server killed outright (SIGKILL, power) leaves its Litestream running; two on one
   * database would fight over the shadow WAL. The previous one is stopped first.
   */
  private async stopOrphan(): Promise<void> {
    const previous = readReplicationStatus(this.store.path);
    if (!previous?.pid || previous.live || previous.serverPid === process.pid) return;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${previous.pid}/cmdline`, "utf8");
    } catch {
      return; // gone, or no /proc to prove it is ours: leave it
    }
    if (!cmdline.includes(litestreamConfigFile(this.store.path))) return;
    log.warn(`stopping litestream pid ${previous.pid}, left running by a server that did not stop cleanly`);
    process.kill(previous.pid, "SIGTERM");
    for (let waited = 0; waited < STOP_TIMEOUT_MS && existsSync(`/proc/${previous.pid}`); waited += 50) await Bun.sleep(50);
  }

  private spawn(): void {
    if (this.stopping || this.halted) return;
    const config = litestreamConfigFile(this.store.path);
    let child: Bun.Subprocess<"ignore", "pipe", "pipe">;
    try {
      child = Bun.spawn([this.options.binary, "replicate", "-config", config, "-no-expand-env"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    } catch (error) {
      this.died(`cannot start ${this.options.binary}: ${errorMessage(error)}`);
      return;
    }
    this.child = child;
    const startedAt = Date.now();
    // Litestream holds a read transaction from now on and checkpoints by itself.
    this.store.handOverCheckpoints(true);
    this.save({ running: true, pid: child.pid });
    let lastOutput = "";
    const read = async (stream: ReadableStream<Uint8Array>) => {
      let buffered = "";
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        buffered += decoder.decode(chunk, { stream: true });
        for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          try {
            if (line) lastOutput = this.onLine(line) ?? lastOutput;
          } catch {
            // never stop reading: a Litestream whose output is not read blocks on it
          }
        }
      }
    };
    void Promise.all([read(child.stdout), read(child.stderr), child.exited]).then(([, , code]) => {
      if (this.child === child) this.child = undefined;
      if (this.stopping || this.halted) return;
      // Checkpoints come back to the server while Litestream is away, so the WAL stays bounded.
      this.store.handOverCheckpoints(false);
      if (Date.now() - startedAt > HEALTHY_RUN_MS) {
        this.delayMs = this.backoffMs;
        this.deathsInARow = 0;
      }
      this.died(`litestream exited with code ${code}${lastOutput ? `: ${lastOutput}` : ""}`);
    });
  }

  private died(reason: string): void {
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.maxBackoffMs);
    this.deathsInARow += 1;
    this.lastErrorAt = Date.now();
    this.save({ running: false, pid: undefined, restarts: this.state.restarts + 1, lastError: reason.slice(0, MAX_ERROR) });
    log.warn(`replication: ${reason}; restarting it in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.spawn();
    }, delay);
  }

  /** Reads one line of Litestream's output; returns it when it is worth quoting if Litestream dies. */
  private onLine(line: string): string | undefined {
    let entry: LitestreamLine;
    try {
      entry = JSON.parse(line) as LitestreamLine;
    } catch {
      return line.slice(0, MAX_ERROR); // not JSON: Litestream's own fatal messages
    }
    switch (entry.msg) {
      case "litestream":
        this.save({ litestreamVersion: entry.version });
        return undefined;
      case "wal segment written":
      case "snapshot written": {
        const generation = entry.position?.split("/")[0];
        this.deathsInARow = 0;
        this.save({ lastSyncAt: entry.time ?? new Date().toISOString(), position: entry.position, generation: generation ?? this.state.generation });
        return undefined;
      }
      case "sync: new generation":
        log.info(`replication: new generation ${entry.generation ?? "?"} (${entry.error ?? (entry as { reason?: string }).reason ?? "Litestream's choice"})`);
        this.save({ generation: entry.generation });
        return undefined;
    }
    if (entry.level === "ERROR" || entry.level === "WARN") {
      const text = `${entry.msg ?? "error"}${entry.error ? `: ${entry.error}` : ""}`.replace(/\s+/g, " ").slice(0, MAX_ERROR);
      // Litestream 0.3.13 cancels a checkpoint it had due when told to stop; its final sync runs all the same.
      if (this.stopping && text.includes("context canceled")) log.info(`litestream, stopping: ${text} (its final sync to the replica still runs)`);
      else log.warn(`litestream: ${text}`);
      this.lastErrorAt = Date.now();
      this.save({ lastError: text });
      if (DISK_FULL.test(text)) {
        this.halt(`the disk of the database is full (${text}); free space on it, then restart copilot-api`);
      }
      return text;
    }
    return undefined;
  }

  private save(change: Partial<ReplicationState>): void {
    this.state = { ...this.state, ...change, updatedAt: new Date().toISOString() };
    try {
      writeReplicationState(this.store.path, this.state);
    } catch (error) {
      log.warn(`replication: cannot write its state for \`db status\`: ${errorMessage(error)}`);
    }
  }
}

/** Free bytes on the disk that holds `folder` (for an unprivileged user); unlimited when it cannot be told. */
function freeBytes(folder: string): number {
  try {
    const fs = statfsSync(folder);
    return fs.bavail * fs.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
