import { isBusy, type Store } from "~/db";
import { errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { recordLastUsed } from "./queries";
import { NO_AUTH_KEY_ID } from "./resolver";

/**
 * Keeps keys.last_used_at current without a write per request: uses are noted
 * in memory and written in one transaction every few seconds and at shutdown.
 */
export class LastUsedTracker {
  private pending = new Map<string, number>();
  private timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly store: Store,
    intervalMs = 15_000,
  ) {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref?.();
  }

  touch(keyId: string, now = Date.now()): void {
    if (keyId !== NO_AUTH_KEY_ID) this.pending.set(keyId, now);
  }

  /** `waitForLock` is for shutdown only: otherwise a locked database is simply retried next time. */
  flush(waitForLock = false): void {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      if (waitForLock) recordLastUsed(this.store, batch);
      else this.store.withBusyTimeout(0, () => recordLastUsed(this.store, batch));
    } catch (error) {
      // A busy or read-only database must not fail requests; the next flush retries.
      for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
      if (!isBusy(error)) log.warn(`could not record key last-used times: ${errorMessage(error)}`);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush(true);
  }
}
