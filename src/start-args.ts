import { type ParsedArgs, parseArgs } from "citty";
import { parseMetricsListen } from "~/features/metrics";
import { databaseUrl, databaseUrlArg, dbPathArg, parseChoice, parseDays, parsePercent, parsePort, parsePositive } from "~/lib/cli";
import type { StartOptions } from "~/start";
import { accountTypeArg, enterpriseUrlArg, githubTokenArgs } from "~/upstream/cli-args";
import { ACCOUNT_TYPES } from "~/upstream/config";

/** The flags of `copilot-api start`, with their defaults (the tests parse them too, to compose the same app in-process). */
export const startArgs = {
  port: { type: "string", description: "port to listen on (0 picks a free one)", default: "4141", alias: "p" },
  host: { type: "string", description: "address to listen on", default: "127.0.0.1" },
  ...dbPathArg,
  ...databaseUrlArg,
  ...accountTypeArg,
  ...enterpriseUrlArg,
  ...githubTokenArgs,
  "body-limit-mb": { type: "string", description: "largest request body accepted, in MiB", default: "32" },
  "web-search-model": {
    type: "string",
    description: "model that runs web searches for clients whose model cannot (Claude Code's WebSearch; default: a cheap catalog model offering /responses)",
    valueHint: "MODEL",
  },
  "events-retention-days": { type: "string", description: "delete request events older than this many days (0 keeps everything)", default: "90" },
  "responses-retention-days": {
    type: "string",
    description: "delete stored Responses API answers (previous_response_id) older than this many days (0 keeps them)",
    default: "30",
  },
  "audit-retention-days": { type: "string", description: "delete audit log entries older than this many days (0 keeps them)", default: "365" },
  // citty reads --no-store-responses as store-responses=false.
  "store-responses": {
    type: "boolean",
    description: "keep Responses API answers for previous_response_id and GET /v1/responses/{id}",
    default: true,
    negativeDescription: "keep no Responses API answers (previous_response_id is then refused)",
  },
  "replicate-to": {
    type: "string",
    description: "replicate the database continuously with Litestream to this URL (file:///folder, s3://bucket/path …; default: $COPILOT_API_REPLICATE_TO)",
    valueHint: "URL",
  },
  metrics: { type: "boolean", description: "serve Prometheus metrics at GET /metrics to admin keys", default: false },
  "metrics-listen": {
    type: "string",
    description: "also serve GET /metrics without a key on this loopback address (implies --metrics)",
    valueHint: "127.0.0.1:9464",
  },
  "otlp-endpoint": {
    type: "string",
    description: "export OpenTelemetry traces (OTLP/HTTP) to this collector URL (default: $OTEL_EXPORTER_OTLP_ENDPOINT; off without it)",
    valueHint: "http://127.0.0.1:4318",
  },
  "reserve-window": {
    type: "string",
    description: "keep the last share of Copilot's session and weekly windows for admin keys: below it, client keys get 429 saying why (0% keeps none)",
    default: "0%",
    valueHint: "10%",
  },
  pool: {
    type: "string",
    description: "spread keys bound to no credential over these credentials (comma-separated labels), with failover; only seats you are entitled to use",
    valueHint: "LABEL,LABEL",
  },
  // citty reads --no-auth as auth=false.
  auth: {
    type: "boolean",
    description: "check API keys; --no-auth turns that off (trusted networks only)",
    default: true,
    negativeDescription: "do not check API keys (trusted networks only)",
  },
} as const;

/** `start`'s parsed flags as options; COPILOT_API_REPLICATE_TO is read from env. */
export function startOptions(args: ParsedArgs<typeof startArgs>, env: Record<string, string | undefined> = process.env): StartOptions {
  return {
    port: parsePort(args.port),
    host: args.host,
    dbPath: args["db-path"],
    databaseUrl: databaseUrl(args["database-url"], env),
    accountType: parseChoice("--account-type", args["account-type"], ACCOUNT_TYPES),
    githubToken: args["github-token"],
    githubTokenFile: args["github-token-file"],
    enterpriseUrl: args["enterprise-url"],
    bodyLimitBytes: Math.round(parsePositive("--body-limit-mb", args["body-limit-mb"]) * 1024 * 1024),
    webSearchModel: args["web-search-model"]?.trim() || undefined,
    noAuth: !args.auth,
    eventsRetentionDays: parseDays(args["events-retention-days"]),
    responsesRetentionDays: parseDays(args["responses-retention-days"], "--responses-retention-days"),
    noStoreResponses: !args["store-responses"],
    reserveWindowPercent: parsePercent("--reserve-window", args["reserve-window"]),
    pool: args.pool
      ? args.pool
          .split(",")
          .map((label) => label.trim())
          .filter(Boolean)
      : undefined,
    replicateTo: args["replicate-to"] || env.COPILOT_API_REPLICATE_TO || undefined,
    auditRetentionDays: parseDays(args["audit-retention-days"], "--audit-retention-days"),
    metrics: args.metrics,
    otlpEndpoint: args["otlp-endpoint"] || env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined,
    metricsListen: args["metrics-listen"] === undefined ? undefined : parseMetricsListen(args["metrics-listen"]),
  };
}

/** `start RAW_ARGS` read as the CLI reads it: the benchmarks and tests compose the same app from the same flags and defaults. */
export const startOptionsFrom = (rawArgs: string[], env: Record<string, string | undefined> = process.env): StartOptions =>
  startOptions(parseArgs(rawArgs, startArgs) as ParsedArgs<typeof startArgs>, env);
