import { defineCommand } from "citty";
import { dbCommand } from "~/db/cli";
import { auditCommand } from "~/features/audit";
import { authCommand } from "~/features/auth/cli";
import { claudeCodeCommand } from "~/features/claude-code/cli";
import { credentialsCommand } from "~/features/credentials";
import { dashboardCommand } from "~/features/dashboard/cli";
import { doctorCommand } from "~/features/doctor/cli";
import { keysCommand } from "~/features/keys/cli";
import { parseMetricsListen } from "~/features/metrics";
import { quotaCommand } from "~/features/quota/cli";
import { restoreCommand } from "~/features/replication";
import { usageCommand } from "~/features/usage/cli";
import { dbPathArg, guarded, parseChoice, parseDays, parsePort, parsePositive } from "~/lib/cli";
import { AppError } from "~/lib/errors";
import { start } from "~/start";
import { accountTypeArg, enterpriseUrlArg, githubTokenArgs } from "~/upstream/cli-args";
import { ACCOUNT_TYPES } from "~/upstream/config";

const startCommand = defineCommand({
  meta: { name: "start", description: "Open and migrate the database, then serve the OpenAI-compatible API" },
  args: {
    port: { type: "string", description: "port to listen on (0 picks a free one)", default: "4141", alias: "p" },
    host: { type: "string", description: "address to listen on", default: "127.0.0.1" },
    ...dbPathArg,
    ...accountTypeArg,
    ...enterpriseUrlArg,
    ...githubTokenArgs,
    "body-limit-mb": { type: "string", description: "largest request body accepted, in MiB", default: "32" },
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
    pool: {
      type: "string",
      description: "spread keys bound to no credential over these credentials (comma-separated labels), with failover; only seats you are entitled to use",
      valueHint: "LABEL,LABEL",
    },
    "reserve-window": {
      type: "string",
      description: "keep the last share of Copilot's session and weekly windows for admin keys: below it, client keys get 429 saying why (0% keeps none)",
      default: "0%",
      valueHint: "10%",
    },
    // citty reads --no-auth as auth=false.
    auth: {
      type: "boolean",
      description: "check API keys; --no-auth turns that off (trusted networks only)",
      default: true,
      negativeDescription: "do not check API keys (trusted networks only)",
    },
  },
  run: guarded(({ args }) =>
    start({
      port: parsePort(args.port),
      host: args.host,
      dbPath: args["db-path"],
      accountType: parseChoice("--account-type", args["account-type"], ACCOUNT_TYPES),
      githubToken: args["github-token"],
      githubTokenFile: args["github-token-file"],
      enterpriseUrl: args["enterprise-url"],
      bodyLimitBytes: Math.round(parsePositive("--body-limit-mb", args["body-limit-mb"]) * 1024 * 1024),
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
      replicateTo: args["replicate-to"] || process.env.COPILOT_API_REPLICATE_TO || undefined,
      auditRetentionDays: parseDays(args["audit-retention-days"], "--audit-retention-days"),
      metrics: args.metrics,
      otlpEndpoint: args["otlp-endpoint"] || process.env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined,
      metricsListen: args["metrics-listen"] === undefined ? undefined : parseMetricsListen(args["metrics-listen"]),
    }),
  ),
});

/** `10%` (or `10`): a share of a window, from 0 to 100. */
function parsePercent(flag: string, value: string): number {
  const n = Number(value.trim().replace(/%$/, ""));
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 100) {
    throw new AppError(`${flag} ${value} is not a percentage from 0 to 100`, `pass e.g. ${flag} 10%`);
  }
  return n;
}

// `db restore` belongs to the replication feature (it runs Litestream); src/db knows nothing of features.
const withRestore = defineCommand({ ...dbCommand, subCommands: { ...(dbCommand.subCommands as Record<string, typeof dbCommand>), restore: restoreCommand } });

/** Every command and flag: run by src/main.ts, read by the docs test. */
export const main = defineCommand({
  meta: { name: "copilot-api", version: "0.1.0", description: "A local OpenAI-compatible gateway in front of GitHub Copilot" },
  subCommands: {
    start: startCommand,
    auth: authCommand,
    keys: keysCommand,
    audit: auditCommand,
    credentials: credentialsCommand,
    usage: usageCommand,
    db: withRestore,
    doctor: doctorCommand,
    quota: quotaCommand,
    "claude-code": claudeCodeCommand,
    dashboard: dashboardCommand,
  },
});
