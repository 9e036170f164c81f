import { cmd } from "~/lib/command-name";
import { AppError, describeError } from "~/lib/errors";
import { log } from "~/lib/log";
import type { Worker } from "~/lib/worker";
import type { UpstreamUrls } from "~/upstream/config";
import { SeatUnavailable } from "~/upstream/forwarder";
import { type CredentialSource, viewOf } from "./queries";
import { Seat } from "./seat";
import type { CredentialVault } from "./vault";

/**
 * Every credential's seat, created on first use (a credential nobody uses costs
 * no token exchange). A seat lives until the server stops; a token GitHub refused
 * and since replaced with `credentials add` or `auth --label` is picked up by the seat.
 */
export class Seats implements Worker {
  private readonly byId = new Map<string, Seat>();
  private started = false;

  constructor(
    private readonly source: CredentialSource,
    private readonly vault: CredentialVault,
    private readonly urls: UpstreamUrls,
  ) {}

  /** The credential's seat; SeatUnavailable when it was removed or its token cannot be opened (the key file). */
  get(id: string): Seat {
    const known = this.byId.get(id);
    if (known) {
      known.renewIfRefused();
      return known;
    }
    const row = this.source.byId(id);
    if (!row) {
      throw new SeatUnavailable(
        `this key is bound to a credential that was removed (${id})`,
        `bind the key to another credential: \`${cmd("keys update KEY --credential LABEL")}\` (or \`--credential none\`)`,
      );
    }
    let token: string;
    try {
      token = this.vault.token(row);
    } catch (error) {
      if (error instanceof AppError) throw new SeatUnavailable(error.message, error.hint);
      throw error;
    }
    const reread = () => {
      const now = this.source.byId(id);
      return now && this.vault.token(now);
    };
    const seat = new Seat(viewOf(row), token, this.urls, (changed) => this.persist(changed), Date.now, reread);
    this.byId.set(id, seat);
    if (this.started) seat.start();
    return seat;
  }

  /** The pool's seats, by label, checked at boot: an unknown label or an unopenable token fails the start. */
  pool(labels: string[]): Seat[] {
    const rows = this.source.byLabels(labels);
    const missing = labels.filter((label) => !rows.some((row) => row.label === label));
    if (missing.length) {
      throw new AppError(
        `--pool names no credential ${missing.join(", ")}`,
        `list them with \`${cmd("credentials list")}\`; add one with \`${cmd("auth --label LABEL")}\``,
      );
    }
    return labels.map((label) => this.get(rows.find((row) => row.label === label)!.id));
  }

  /** Every seat in use so far. */
  all(): Seat[] {
    return [...this.byId.values()];
  }

  start(): void {
    this.started = true;
    for (const seat of this.byId.values()) seat.start();
  }

  stop(): void {
    for (const seat of this.byId.values()) seat.stop();
  }

  private persist(seat: Seat): void {
    log.warn(`credential ${seat.credential.label}: ${seat.state}${seat.lastRefusal ? ` (HTTP ${seat.lastRefusal.status})` : ""}`);
    const failed = (error: unknown) => log.warn(`credential ${seat.credential.label}: its state could not be stored: ${describeError(error)}`);
    try {
      this.source.setState(seat.id, seat.state)?.catch(failed);
    } catch (error) {
      failed(error);
    }
  }
}
