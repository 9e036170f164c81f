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
