// Loaded only when tracing is on (see ./index.ts): OpenTelemetry's SDK never loads otherwise.
import { type Attributes, type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import type { RequestTrace } from "~/lib/trace-hook";

const propagator = new W3CTraceContextPropagator();
const headerGetter = { keys: (carrier: Headers) => [...carrier.keys()], get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined };

/** W3C traceparent of a span, written directly (the propagator's inject builds a context and a carrier for the same string). */
const traceparentOf = (span: Span) => {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-0${(traceFlags & 0xff).toString(16)}`;
};

/** The OTLP/HTTP (JSON) exporter's URL: the spec's base endpoint plus /v1/traces, unless the path is already there. */
export const tracesUrl = (endpoint: string) => (endpoint.replace(/\/+$/, "").endsWith("/v1/traces") ? endpoint : `${endpoint.replace(/\/+$/, "")}/v1/traces`);

export interface OtelTracing {
  tracer: Tracer;
  shutdown(): Promise<void>;
}

export function startOtel(endpoint: string, version: string): OtelTracing {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": process.env.OTEL_SERVICE_NAME || "copilot-api", "service.version": version }),
    // Spans leave in batches every second, off the request path.
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: tracesUrl(endpoint) }), scheduledDelayMillis: 1000 })],
  });
  return { tracer: provider.getTracer("copilot-api", version), shutdown: () => provider.shutdown() };
}

/** A request's span and its children. The client's `traceparent` (W3C) makes it part of the caller's trace. */
export class OtelRequestTrace implements RequestTrace {
  readonly span: Span;
  /** The path the request went to Copilot on (native or translated). */
  upstreamPath: string | undefined;
  /** The request span's context, made once for its children. */
  private readonly context: Context;

  constructor(
    private readonly tracer: Tracer,
    headers: Headers,
    name: string,
    attributes: Attributes,
  ) {
    const parent = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    this.span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    this.context = trace.setSpan(ROOT_CONTEXT, this.span);
  }

  upstream(path: string) {
    this.upstreamPath = path;
    const span = this.child(`POST ${path}`, SpanKind.CLIENT, { "server.address": "copilot", "url.path": path });
    return {
      traceparent: traceparentOf(span),
      end: (status: number | undefined) => {
        if (status === undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: "Copilot not reached" });
        else {
          span.setAttribute("http.response.status_code", status);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      },
    };
  }

  storeWrite() {
    const span = this.child("store write", SpanKind.INTERNAL, { "db.system.name": "sqlite", "db.operation.name": "INSERT events" });
    return () => span.end();
  }

  end(attributes: Attributes, status: number): void {
    this.span.setAttributes(attributes);
    this.span.setAttribute("http.response.status_code", status);
    if (status >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.end();
  }

  private child(name: string, kind: SpanKind, attributes: Attributes): Span {
    return this.tracer.startSpan(name, { kind, attributes }, this.context);
  }
}
