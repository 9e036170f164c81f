import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { litestreamConfigFile, type ReplicationState, readReplicationStatus, replicationFolder, type Store, writeReplicationState } from "~/db";
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
}

export const DEFAULT_SYNC_INTERVAL_MS = 1000;
/** A Litestream that ran this long before dying is restarted after the first delay again. */
const HEALTHY_RUN_MS = 60_000;
/** Litestream's final sync on SIGTERM; past this it is killed (the next start begins a new generation anyway). */
const STOP_TIMEOUT_MS = 15_000;
const MAX_ERROR = 300;

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

  constructor(
    private readonly store: Store,
    private readonly target: ReplicaTarget,
    private readonly options: ReplicationOptions,
  ) {
    this.syncIntervalMs = options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
    this.backoffMs = options.backoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.delayMs = this.backoffMs;
    this.state = { replica: target.display, serverPid: process.pid, running: false, restarts: 0, updatedAt: new Date().toISOString() };
  }

  start(): void {
    const folder = replicationFolder(this.store.path);
    if (!existsSync(folder)) mkdirSync(folder, { recursive: true, mode: FOLDER_MODE });
    const config = litestreamConfigFile(this.store.path);
    writeFileSync(config, litestreamConfig(this.store.path, this.target, { syncIntervalMs: this.syncIntervalMs }), { mode: FILE_MODE });
    chmodSync(config, FILE_MODE);
    this.running = this.stopOrphan().then(() => this.spawn());
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
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
    this.store.handOverCheckpoints(false);
    this.save({ running: false, pid: undefined });
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
    if (this.stopping) return;
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
      if (this.stopping) return;
      // Checkpoints come back to the server while Litestream is away, so the WAL stays bounded.
      this.store.handOverCheckpoints(false);
      if (Date.now() - startedAt > HEALTHY_RUN_MS) this.delayMs = this.backoffMs;
      this.died(`litestream exited with code ${code}${lastOutput ? `: ${lastOutput}` : ""}`);
    });
  }

  private died(reason: string): void {
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.maxBackoffMs);
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
        this.save({ lastSyncAt: entry.time ?? new Date().toISOString(), position: entry.position, generation: generation ?? this.state.generation });
        return undefined;
      }
      case "sync: new generation":
        log.info(`replication: new generation ${entry.generation ?? "?"} (${entry.error ?? (entry as { reason?: string }).reason ?? "Litestream's choice"})`);
        this.save({ generation: entry.generation });
        return undefined;
    }
    if (entry.level === "ERROR" || entry.level === "WARN") {
      const text = `${entry.msg ?? "error"}${entry.error ? `: ${entry.error}` : ""}`.slice(0, MAX_ERROR);
      // Litestream 0.3.13 cancels a checkpoint it had due when told to stop; its final sync runs all the same.
      if (this.stopping && text.includes("context canceled")) log.info(`litestream, stopping: ${text} (its final sync to the replica still runs)`);
      else log.warn(`litestream: ${text}`);
      this.save({ lastError: text });
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
