import { errorMessage } from "./errors";
import { log } from "./log";

/**
 * A background job that lives as long as the server: constructing it starts
 * nothing; start() begins its timers; stop() ends them and flushes what it
 * holds. The boot starts them in order and stops them in reverse.
 */
export interface Worker {
  start(): void;
  stop(): void | Promise<void>;
}

/**
 * Stops every worker in reverse order, then runs `last` (closing the store),
 * whatever fails on the way: one worker that throws must not leave the others
 * running or the store open (Litestream's DB.Close runs every step the same way).
 * Rejects with the first error once everything has run; later ones are logged.
 */
export async function stopAll(workers: readonly Worker[], ...last: (() => void)[]): Promise<void> {
  const errors: unknown[] = [];
  for (const step of [...workers.toReversed().map((worker) => () => worker.stop()), ...last]) {
    try {
      await step();
    } catch (error) {
      errors.push(error);
    }
  }
  for (const later of errors.slice(1)) log.error(`while stopping, after the first failure: ${errorMessage(later)}`);
  if (errors.length > 0) throw errors[0];
}

/**
 * The life of a job that runs one pass now and then (retention): the first a second after
 * start(), then every `everyMs`; once() runs one now, or joins the one in progress; stop()
 * ends both timers (the first one too, so a server stopped within its first second runs no
 * pass over a closed store) and waits for a pass in progress.
 */
export class PeriodicPasses<T> {
  private first?: ReturnType<typeof setTimeout>;
  private timer?: ReturnType<typeof setInterval>;
  private running?: Promise<T>;

  constructor(
    private readonly pass: (now: number) => Promise<T>,
    private readonly options: { everyMs: number; failed: (error: unknown) => void },
  ) {}

  start(): void {
    const run = () => void this.once().catch(this.options.failed);
    this.first = setTimeout(run, 1000);
    this.first.unref?.();
    this.timer = setInterval(run, this.options.everyMs);
    this.timer.unref?.();
  }

  once(now = Date.now()): Promise<T> {
    this.running ??= this.pass(now).finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    clearTimeout(this.first);
    clearInterval(this.timer);
    await this.running;
  }
}
