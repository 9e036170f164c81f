import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import { isBusy, type Store } from "~/db";
import { errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import type { Worker } from "~/lib/worker";
import { recordLastUsed } from "./queries";
import { NO_AUTH_KEY_ID } from "./resolver";

/**
 * Keeps keys.last_used_at current without a write per request: uses are noted
 * in memory and written in one transaction every few seconds and at shutdown.
 */
export class LastUsedTracker implements Worker {
  private pending = new Map<string, number>();
  private timer?: ReturnType<typeof setInterval>;

  constructor(
    /** The SQLite store, or a write of its own (PostgreSQL: one UPDATE per batch, ./pg.ts). */
    private readonly store: Store | ((used: Map<string, number>) => Promise<void>),
    private readonly intervalMs = 15_000,
  ) {}

  /** Begins writing noted uses every `intervalMs`. */
  start(): void {
    this.timer ??= setInterval(() => this.flush(), this.intervalMs);
    this.timer.unref?.();
  }

  touch(keyId: string, now = Date.now()): void {
    if (keyId !== NO_AUTH_KEY_ID) this.pending.set(keyId, now);
  }

  /** `waitForLock` is for shutdown only: otherwise a locked database is simply retried next time. */
  flush(waitForLock = false): void | Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    // A busy or read-only database must not fail requests; the next flush retries.
    const failed = (error: unknown) => {
      for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
      if (!isBusy(error)) log.warn(`could not record key last-used times: ${errorMessage(error)}`);
    };
    const store = this.store;
    if (typeof store === "function") return store(batch).catch(failed);
    try {
      if (waitForLock) recordLastUsed(store, batch);
      else store.backgroundWrite(() => recordLastUsed(store, batch));
    } catch (error) {
      failed(error);
    }
  }

  /** Ends the timer and writes what is still noted. */
  stop(): void | Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    return this.flush(true);
  }
}

/** Notes the key's use for keys.last_used_at (written in batches by the tracker). */
export function noteLastUsed(tracker: LastUsedTracker): MiddlewareHandler<AppEnv> {
  return async function noteLastUsed(c, next) {
    tracker.touch(c.get("apiKey").id);
    await next();
  };
}
