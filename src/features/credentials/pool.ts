import { log } from "~/lib/log";
import type { ForwardOptions } from "~/upstream/copilot-client";
import { GithubTokenRejected } from "~/upstream/copilot-token";
import type { Forwarder } from "~/upstream/forwarder";
import type { Seat } from "./seat";

/** FNV-1a, 32 bits: a stable, cheap hash of a short string (an affinity value), the same in every process. */
export function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Copilot answers that another seat may not get: a rate limit or window (429), or Copilot's own trouble (5xx). */
const failsOver = (status: number) => status === 429 || status >= 500;

/**
 * The seats an opt-in pool (`start --pool ci,bob`) spreads unbound keys over.
 * A conversation stays on one seat: its affinity value picks the first seat
 * (a stable hash), and only a refused token, a 429 or a 5xx moves the request
 * to the next usable one; each move is logged and counted.
 */
export class SeatPool {
  failovers = 0;

  constructor(readonly seats: Seat[]) {}

  /** The seat an affinity value sticks to while every seat is usable. */
  first(affinity: string): Seat {
    return this.seats[stableHash(affinity) % this.seats.length]!;
  }

  /** One request's Forwarder: `fallbackAffinity` (the key id) unless the request names its own; `chosen` is told the seat that answered. */
  forRequest(fallbackAffinity: string, chosen: (seat: Seat) => void): Forwarder {
    return { forward: (options) => this.forward(options, fallbackAffinity, chosen) };
  }

  private async forward(options: ForwardOptions, fallbackAffinity: string, chosen: (seat: Seat) => void): Promise<Response> {
    const start = this.startOf(options.affinity ?? fallbackAffinity);
    const order = this.seats.map((_, i) => this.seats[(start + i) % this.seats.length]!);
    // Seats known to be refused or rate limited go last: tried only when nothing else is left.
    const tries = [...order.filter((seat) => seat.usable()), ...order.filter((seat) => !seat.usable())];
    for (let i = 0; i < tries.length; i++) {
      const seat = tries[i]!;
      const next = tries[i + 1];
      chosen(seat);
      let response: Response;
      try {
        response = await seat.forward(options);
      } catch (error) {
        if (!(error instanceof GithubTokenRejected) || !next || options.signal?.aborted) throw error;
        this.moved(seat, next, "its token was refused");
        continue;
      }
      if (!failsOver(response.status) || !next || options.signal?.aborted) return response;
      await response.body?.cancel();
      this.moved(seat, next, `Copilot answered HTTP ${response.status}`);
    }
    throw new Error("a pool has at least one seat");
  }

  /** A seat's own id (a stored response's credential) names that seat; any other value is hashed. */
  private startOf(affinity: string): number {
    const pinned = this.seats.findIndex((seat) => seat.id === affinity);
    return pinned >= 0 ? pinned : stableHash(affinity) % this.seats.length;
  }

  private moved(from: Seat, to: Seat, why: string): void {
    this.failovers += 1;
    log.warn(`pool: credential ${from.credential.label}: ${why}; request moved to credential ${to.credential.label} (failover ${this.failovers})`);
  }
}
