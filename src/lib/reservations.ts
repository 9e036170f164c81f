/**
 * Amounts held per owner (a key) by work in flight, so that a limit is checked
 * against what is used plus what is already on its way: concurrent requests
 * then cannot pass a quota or budget by more than those in flight when it was
 * reached. In memory, per process; each hold is released once its real cost
 * is counted where the limit reads its use (the event committed).
 *
 * The unit is the caller's (premium requests today, credits for budgets).
 * A few map operations per request: well under a microsecond.
 */
export class Reservations {
  private readonly held = new Map<string, { amount: number; holds: number }>();

  /** What the owner's requests in flight hold now. */
  reserved(owner: string): number {
    return this.held.get(owner)?.amount ?? 0;
  }

  /** Holds `amount` for the owner until the returned reservation is released (or resized). */
  reserve(owner: string, amount: number): Reservation {
    let entry = this.held.get(owner);
    if (!entry) {
      entry = { amount: 0, holds: 0 };
      this.held.set(owner, entry);
    }
    entry.amount += amount;
    entry.holds += 1;
    return new Reservation(entry, amount, () => {
      entry.holds -= 1;
      // The last hold gone: forget the owner (also drops float residue like 1e-16 from 0.33 + 0.33 − 0.66).
      if (entry.holds === 0 && this.held.get(owner) === entry) this.held.delete(owner);
    });
  }

  /** Owners with something held (for tests and diagnostics). */
  get owners(): number {
    return this.held.size;
  }
}

/** One request's hold: resized once its cost is known, released once; later calls do nothing. */
export class Reservation {
  private released = false;

  constructor(
    private readonly entry: { amount: number },
    private amount: number,
    private readonly onRelease: () => void,
  ) {}

  /** What this hold is now. */
  get held(): number {
    return this.released ? 0 : this.amount;
  }

  /** The cost is better known now (e.g. the model's multiplier once the body is read): hold that instead. */
  resize(amount: number): void {
    if (this.released) return;
    this.entry.amount += amount - this.amount;
    this.amount = amount;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.entry.amount -= this.amount;
    this.onRelease();
  }
}
