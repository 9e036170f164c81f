import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import type { EventError } from "~/db/schema";
import { type ChildEvent, type EventDraft, expectedPremium, newDraft } from "./draft";
import type { RecordedEvent } from "./queries";
import type { EventRecorder } from "./recorder";

/** The routes that leave an event, as recorded (without the optional /v1 prefix); each protocol's list, given by server.ts. */
export interface RecordedRoutes {
  /** Routes whose answer carries usage: one without it is flagged usage_unknown. */
  usage: readonly string[];
  other: readonly string[];
}

const OWN_ERRORS: Record<number, EventError> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  413: "payload_too_large",
  415: "bad_request", // a body that is not JSON; the status column tells it apart
  429: "rate_limited", // a key's --rate-limit or --premium-quota (the quota sets its own tag)
  499: "client_aborted",
  502: "upstream_error",
  503: "not_authenticated",
};

/** What Copilot bills (see expectedPremium); requests Copilot refused or never saw cost nothing. */
function premiumRequests(draft: EventDraft, status: number): number {
  if (!draft.reachedUpstream || status >= 400) return 0;
  return expectedPremium(draft, draft.initiator);
}

function errorTag(status: number, draft: EventDraft): EventError | null {
  if (draft.error) return draft.error;
  if (status < 400) return null;
  // Copilot's own 429 is told apart from ours: the plan's limits, not a key's.
  if (draft.reachedUpstream) return status === 429 ? "upstream_rate_limited" : "upstream_error";
  return OWN_ERRORS[status] ?? (status >= 500 ? "internal_error" : "bad_request");
}

/** A request made on the client's behalf, as its own event: the parent's key and seat, its own model and usage. */
function childEvent(draft: EventDraft, child: ChildEvent): RecordedEvent {
  return {
    ts: child.ts,
    keyId: draft.keyId,
    route: child.route,
    model: child.model,
    upstreamModel: child.upstreamModel,
    stream: false,
    promptTokens: child.promptTokens ?? null,
    completionTokens: child.completionTokens ?? null,
    cacheReadTokens: child.cacheReadTokens ?? null,
    initiator: child.initiator,
    premiumRequests: 0, // agent-initiated: Copilot bills nothing for it
    usageUnknown: child.status < 400 && !child.usageSeen,
    status: child.status,
    latencyMs: child.latencyMs,
    error: child.error ?? null,
    credentialId: draft.credentialId,
  };
}

/**
 * One event per proxied request, whatever its outcome: starts the clock,
 * gives the handlers a draft to fill (c.get("event")), and hands the finished
 * event to the recorder before the answer leaves: the response is handed back
 * only once the event is committed (end of this event-loop turn), and a
 * stream's last bytes only once its event is, so a crash never loses the
 * event of a request the client saw answered.
 */
declare module "hono" {
  interface ContextVariableMap {
    /** What telemetry records for this request; handlers fill it in. */
    event: EventDraft;
  }
}

export function telemetry(recorder: EventRecorder, ...protocols: RecordedRoutes[]): MiddlewareHandler<AppEnv> {
  const recorded = new Set(protocols.flatMap((routes) => [...routes.usage, ...routes.other]));
  const withUsage = new Set(protocols.flatMap((routes) => routes.usage));
  return async function telemetry(c, next) {
    const ts = Date.now();
    const started = performance.now();
    const draft = newDraft();
    c.set("event", draft);
    // A quota's hold is let go only once the event that counts the real cost is committed.
    const release = () => {
      draft.reservation?.release();
      draft.budgetHold?.release();
    };
    try {
      await next();
    } catch (error) {
      release();
      throw error;
    }
    const route = c.req.path.replace(/^\/v1(?=\/)/, "");
    if (!recorded.has(route)) return release();
    const status = c.res.status;
    const record = () =>
      recorder.record({
        ts,
        keyId: draft.keyId,
        route,
        model: draft.model,
        upstreamModel: draft.upstreamModel,
        stream: draft.stream,
        promptTokens: draft.promptTokens,
        completionTokens: draft.completionTokens,
        cacheReadTokens: draft.cacheReadTokens,
        cacheCreationTokens: draft.cacheCreationTokens,
        reasoningTokens: draft.reasoningTokens,
        initiator: draft.initiator,
        premiumMultiplier: draft.premiumMultiplier,
        premiumRequests: premiumRequests(draft, status),
        usageUnknown: withUsage.has(route) && draft.reachedUpstream && !draft.usageSeen,
        costNanoAiu: draft.costNanoAiu,
        tokenDetails: draft.tokenDetails,
        costUnknown: withUsage.has(route) && draft.reachedUpstream && status < 400 && draft.costNanoAiu === null,
        status,
        latencyMs: Math.round(performance.now() - started),
        error: errorTag(status, draft),
        credentialId: draft.credentialId,
        children: draft.children.map((child) => childEvent(draft, child)),
      });
    if (draft.streamEnded) {
      draft.recorded = draft.streamEnded
        .then(async () => {
          const written = c.get("trace")?.storeWrite(); // the store write's span, when tracing
          record();
          await recorder.committed();
          written?.();
        })
        .finally(release);
      return;
    }
    const written = c.get("trace")?.storeWrite(); // the store write's span, when tracing
    record();
    try {
      await recorder.committed();
      written?.();
    } finally {
      release();
    }
  };
}
