import type { EventDraft } from "~/features/events/draft";
import type { ResolvedKey } from "~/features/keys/resolver";
import type { ErrorShape } from "~/lib/api-error";
import type { RequestTrace } from "~/lib/trace-hook";
import type { UpstreamChoice } from "~/upstream/forwarder";

/** The typed request context (c.var) that middleware fills and routes read. */
export interface AppEnv {
  Variables: {
    /** The key this request came with (or the __noauth__ sentinel). */
    apiKey: ResolvedKey;
    /** What telemetry records for this request; handlers fill it in. */
    event: EventDraft;
    /** How errors are worded for this request: its protocol's shape (set first, in server.ts). */
    errorShape: ErrorShape;
    /** This request's trace, only when tracing is on (--otlp-endpoint). */
    trace: RequestTrace | undefined;
    /** The Copilot client and catalog this request uses: its key's seat, the pool, or the default token (features/credentials). */
    upstream: UpstreamChoice;
  };
}
