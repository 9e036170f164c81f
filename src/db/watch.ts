import { log } from "~/lib/log";
import type { Worker } from "~/lib/worker";
import { RESTART_HINT } from "./identity";

/**
 * Notices, within a few seconds even when nothing is written, that the
 * database file was deleted or replaced under a running server, and says so
 * loudly once. /healthz reads the same state (store.fileProblem()) and answers
 * 503, so a supervisor restarts the server onto the file now at the path.
 */
export class StoreFileWatch implements Worker {
  private timer?: ReturnType<typeof setInterval>;
  private reported = false;

  constructor(
    /** The store's own check (Store.fileProblem): the file it opened is no longer the one at its path. */
    private readonly store: { fileProblem(): string | undefined },
    private readonly everyMs = 2000,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.check(), this.everyMs);
    this.timer.unref?.();
  }

  /** Returns the problem, if any; logs it the first time it is seen. */
  check(): string | undefined {
    const problem = this.store.fileProblem();
    if (problem && !this.reported) {
      this.reported = true;
      log.error(`${problem}. This server no longer writes to it (events are dropped, counted in /healthz, which now answers 503); ${RESTART_HINT}.`);
    }
    return problem;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
