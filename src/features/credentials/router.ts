import type { EventDraft } from "~/features/events";
import type { ResolvedKey } from "~/features/keys";
import { type Forwarder, refusingForwarder, SeatUnavailable, type UpstreamChoice } from "~/upstream/forwarder";
import type { SeatPool } from "./pool";
import type { Seats } from "./seats";

/**
 * Chooses the Copilot seat a request goes to: the key's bound credential; else,
 * with --pool, the pool (by affinity, failing over); else the default GitHub
 * token, as before credentials existed. The event records the seat that answered.
 */
export class UpstreamRouter {
  private readonly fallback: () => UpstreamChoice;

  constructor(
    /** The default token's client and catalog: fixed, or asked per request (a server that picks up a new token, upstream/default-upstream.ts). */
    fallback: UpstreamChoice | { current(): UpstreamChoice },
    private readonly seats?: Seats,
    private readonly pool?: SeatPool,
  ) {
    this.fallback = "current" in fallback ? () => fallback.current() : () => fallback;
  }

  forRequest(key: ResolvedKey, event: EventDraft): UpstreamChoice {
    if (key.credentialId !== null) return this.bound(key.credentialId, event);
    if (!this.pool) return this.fallback();
    const copilot = this.pool.forRequest(key.id, (seat) => {
      event.credentialId = seat.id;
    });
    return { copilot, catalog: this.pool.first(key.id).catalog };
  }

  private bound(credentialId: string, event: EventDraft): UpstreamChoice {
    event.credentialId = credentialId;
    if (!this.seats) return { copilot: unavailable };
    try {
      const seat = this.seats.get(credentialId);
      return { copilot: seat, catalog: seat.catalog };
    } catch (error) {
      if (error instanceof SeatUnavailable) return { copilot: refusingForwarder(error) };
      throw error;
    }
  }
}

const unavailable: Forwarder = refusingForwarder(
  new SeatUnavailable(
    "this key is bound to a credential, and this server was started without credentials",
    "restart copilot-api (credentials are read at start)",
  ),
);
