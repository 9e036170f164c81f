/**
 * A background job that lives as long as the server: constructing it starts
 * nothing; start() begins its timers; stop() ends them and flushes what it
 * holds. The boot starts them in order and stops them in reverse.
 */
export interface Worker {
  start(): void;
  stop(): void | Promise<void>;
}
