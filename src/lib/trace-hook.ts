/**
 * What one traced request offers the parts it passes through (c.get("trace"), set only when
 * tracing is on): the upstream call and the store write each get a child span. Kept here,
 * free of OpenTelemetry, so the request path imports nothing of it when tracing is off.
 */
export interface RequestTrace {
  /** The call to Copilot begins: the `traceparent` to send, and its end (Copilot's status, or none when it was not reached). */
  upstream(path: string): { traceparent: string; end(status: number | undefined): void };
  /** The event's store write begins (recorded → committed); returns its end. */
  storeWrite(): () => void;
}

declare module "hono" {
  interface ContextVariableMap {
    /** This request's trace, only when tracing is on (--otlp-endpoint). */
    trace: RequestTrace | undefined;
  }
}
