import { expect, test } from "bun:test";
import { newDraft, observeFor } from "~/features/events/draft";
import { Reservations } from "~/lib/reservations";
import { cleanUpAfterFile } from "../helpers";

cleanUpAfterFile();

const noUsage = { fromAnswer() {}, fromStream() {} };

test("holds add up per owner, are resized once the cost is known, released once, and the owner is forgotten with its last hold", () => {
  const ledger = new Reservations();
  const a = ledger.reserve("key_a", 1);
  const b = ledger.reserve("key_a", 1);
  ledger.reserve("key_b", 2);
  expect(ledger.reserved("key_a")).toBe(2);
  a.resize(0.33);
  expect(ledger.reserved("key_a")).toBeCloseTo(1.33, 10);
  a.release();
  a.release(); // twice: nothing more
  a.resize(5); // after release: nothing
  expect(ledger.reserved("key_a")).toBe(1);
  b.release();
  expect(ledger.reserved("key_a")).toBe(0);
  expect(ledger.owners).toBe(1);
});

test("a request's hold is sized just before sending: its multiplier for a person's request, nothing for an agent turn", () => {
  const ledger = new Reservations();
  for (const [initiator, multiplier, held] of [
    ["user", 10, 10],
    ["user", null, 0],
    ["agent", 10, 0],
  ] as const) {
    const draft = newDraft();
    draft.premiumMultiplier = multiplier;
    draft.reservation = ledger.reserve("key", 1);
    observeFor(draft, noUsage).sending?.({ initiator });
    expect(ledger.reserved("key")).toBe(held);
    draft.reservation.release();
  }
});
