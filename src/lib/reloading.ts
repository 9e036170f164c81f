import { errorMessage } from "./errors";
import { log } from "./log";
import type { Worker } from "./worker";

/**
 * An in-memory copy of shared rows kept current: `reload()` on a change notice (at once) and every
 * `everyMs` (the fallback for a notice missed during a reconnect). One load at a time; a reload asked
 * for meanwhile runs once after it. A failing load keeps what was loaded, said once until it works again.
 */
export class Reloading implements Worker {
  private timer?: ReturnType<typeof setInterval>;
  private loading?: Promise<void>;
  private again = false;
  private failing = false;

  constructor(
    private readonly load: () => Promise<void>,
    /** What is reloaded, for the log: "keys", "credentials". */
    private readonly what: string,
    private readonly everyMs = 1000,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.reload(), this.everyMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  reload(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.load()
      .then(
        () => {
          if (this.failing) log.info(`${this.what}: reading them from PostgreSQL again`);
          this.failing = false;
        },
        (error) => {
          if (!this.failing) log.warn(`${this.what}: cannot reload them from PostgreSQL (${errorMessage(error)}); retrying every ${this.everyMs / 1000} s`);
          this.failing = true;
        },
      )
      .finally(() => {
        this.loading = undefined;
        if (this.again) {
          this.again = false;
          void this.reload();
        }
      });
    return this.loading;
  }
}
