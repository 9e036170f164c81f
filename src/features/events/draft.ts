import type { EventError } from "~/db/schema";
import type { Reservation } from "~/lib/reservations";
import type { Initiator } from "~/upstream/copilot-client";
import type { AnswerObserver, StreamEnds } from "~/upstream/relay";
import { noteCost, noteStreamCost } from "./cost";

/** What a request's handlers learn about it, filled in as it goes and recorded once at its end. */
export interface EventDraft {
  keyId: string;
  /** The model the client asked for. */
  model: string | null;
  stream: boolean;
  upstreamModel: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  cacheReadTokens: number | null;
  cacheCreationTokens: number | null;
  reasoningTokens: number | null;
  /** The credential (Copilot seat) that answered; null for the default GitHub token. */
  credentialId: string | null;
  /** The X-Initiator sent to Copilot, when the request went there. */
  initiator: Initiator | null;
  /** The model's premium multiplier in the catalog when the request was made (null: unknown or not premium). */
  premiumMultiplier: number | null;
  /** The request reached Copilot (its status is Copilot's). */
  reachedUpstream: boolean;
  /** Copilot's meter for the answer (copilot_usage.total_nano_aiu); null: it sent none, unknown. */
  costNanoAiu: number | null;
  /** copilot_usage.token_details, compact JSON; null when absent. */
  tokenDetails: string | null;
  /** A usage block was found in Copilot's answer. */
  usageSeen: boolean;
  /** Set when something more specific than the status explains the failure. */
  error: EventError | null;
  /** For streamed answers: settles when the stream ends or the client goes away. */
  streamEnded?: Promise<void>;
  /** For streamed answers: settles once the event is committed; the stream's end waits for it. */
  recorded?: Promise<void>;
  /**
   * What this request holds of its key's premium quota while in flight: taken
   * before the body is read, sized to the expected cost just before sending,
   * released by telemetry once the event (with the real cost) is committed.
   */
  reservation: Reservation | null;
  /**
   * What this request holds of its key's monthly credit budget (--budget) in nano-AIU: the
   * model's expected cost, taken just before sending, released once the event (with
   * Copilot's real cost) is committed.
   */
  budgetHold: Reservation | null;
  /** Set by the budget check for a key with a --budget: called just before sending; holds the model's expected cost, or throws its 429. */
  chargeBudget?: (model: string | null) => void;
  /** Requests the gateway made to Copilot on this one's behalf (web searches): recorded as events of their own, linked to it. */
  children: ChildEvent[];
}

/** A request the gateway sent Copilot for a client's request (a web search): its own event, recorded with the parent's. */
export interface ChildEvent {
  ts: number;
  route: string;
  model: string | null;
  upstreamModel: string | null;
  initiator: Initiator;
  status: number;
  latencyMs: number;
  promptTokens?: number | null;
  completionTokens?: number | null;
  cacheReadTokens?: number | null;
  usageSeen?: boolean;
  error?: EventError | null;
}

/** Before key resolution knows better: a request that presented no usable key. */
export const UNAUTHENTICATED_KEY_ID = "__unauthenticated__";

export function newDraft(): EventDraft {
  return {
    keyId: UNAUTHENTICATED_KEY_ID,
    model: null,
    stream: false,
    upstreamModel: null,
    credentialId: null,
    promptTokens: null,
    completionTokens: null,
    cacheReadTokens: null,
    cacheCreationTokens: null,
    reasoningTokens: null,
    initiator: null,
    premiumMultiplier: null,
    reachedUpstream: false,
    usageSeen: false,
    costNanoAiu: null,
    tokenDetails: null,
    error: null,
    reservation: null,
    children: [],
    budgetHold: null,
  };
}

/**
 * What Copilot bills for a request sent with this initiator: a request the
 * person started (X-Initiator: user) to a premium model costs its multiplier
 * in premium requests; agent turns cost nothing.
 */
export const expectedPremium = (draft: Pick<EventDraft, "premiumMultiplier">, initiator: Initiator | null | undefined): number =>
  initiator === "user" && draft.premiumMultiplier ? draft.premiumMultiplier : 0;

/** How a protocol reads usage from Copilot's answer into the draft. */
export interface UsageReader {
  fromAnswer(draft: EventDraft, answer: unknown): void;
  fromStream(draft: EventDraft, ends: StreamEnds): void;
}

/**
 * The relay's observer for this request: marks what reached Copilot, lets the
 * protocol read usage (and reads Copilot's cost, the same on every protocol), and tracks a stream so telemetry records it at its end
 * (the stream closes for the client only once that event is committed).
 */
export function observeFor(draft: EventDraft, usage: UsageReader, client?: AbortSignal): AnswerObserver {
  return {
    clientLeft: () => client?.aborted === true,
    sending: (sent) => {
      draft.reservation?.resize(expectedPremium(draft, sent.initiator));
      draft.chargeBudget?.(draft.upstreamModel ?? draft.model);
    },
    reached: (sent) => {
      draft.reachedUpstream = true;
      draft.initiator = sent.initiator ?? null;
    },
    answer: (json) => {
      usage.fromAnswer(draft, json);
      noteCost(draft, json);
    },
    aborted: () => {
      draft.error = "client_aborted";
    },
    streamStarted: () => {
      let settle!: () => void;
      draft.streamEnded = new Promise<void>((resolve) => (settle = resolve));
      return async (ends, failure) => {
        usage.fromStream(draft, ends);
        // Copilot's meter is the same block on every protocol: read here once, from the bytes Copilot sent.
        noteStreamCost(draft, ends);
        if (failure) draft.error = failure;
        settle();
        await draft.recorded;
      };
    },
  };
}
