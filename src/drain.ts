import { log } from "~/lib/log";

/** How long a stop waits for requests in flight (a long stream) before cutting them. */
export const DRAIN_MS = 5000;

interface Listening {
  readonly pendingRequests: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

export interface Drain {
  /** Settles once every request has finished or been cut. */
  readonly finished: Promise<void>;
  /** Stops waiting: the requests still in flight are cut now (a second Ctrl-C). */
  now(why: string): void;
}

/**
 * Stops listening and lets the requests in flight finish, for at most DRAIN_MS, then
 * cuts them. Said in the log when there is something to wait for, so a Ctrl-C that
 * seems to hang says why and how to end it; `now` ends the wait at once. A cut stream
 * still ends its event (client_aborted), which the final flush that follows writes.
 */
export function drain(server: Listening, ms = DRAIN_MS): Drain {
  const inFlight = server.pendingRequests;
  if (inFlight > 0) log.info(`waiting up to ${ms / 1000} s for ${inFlight} request(s) in flight; Ctrl-C again to stop now`);
  let done = false;
  let cut!: () => void;
  const cutNow = new Promise<void>((resolve) => (cut = resolve));
  const graceful = server.stop().then(() => {
    done = true;
  });
  const finished = Promise.race([graceful, Bun.sleep(ms), cutNow]).then(async () => {
    // Never hang a stop on an idle keep-alive client or an endless stream.
    if (!done) await server.stop(true);
  });
  return {
    finished,
    now(why) {
      if (done) return;
      log.info(`${why} again: stopping now, cutting ${server.pendingRequests} request(s) in flight`);
      cut();
    },
  };
}
