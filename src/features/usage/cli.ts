import { defineCommand, type ParsedArgs } from "citty";
import { withStore } from "~/db";
import { databaseUrl, databaseUrlArg, dbPathArg, guarded } from "~/lib/cli";
import { dbPath } from "~/lib/paths";
import { parseSince } from "~/lib/since";
import { buildReport, formatReport, parseGroup, type UsageReport } from "./report";
import { sqliteUsage } from "./store";

/** The flags of `usage` (the tests parse them too, to read the report at a clock of their own without a process). */
export const usageArgs = {
  ...dbPathArg,
  ...databaseUrlArg,
  since: { type: "string", description: "window reaching back from now (24h, 7d, 30d, …) or a date (2026-11-01)", default: "24h" },
  key: { type: "string", description: "only this key id", valueHint: "ID" },
  by: { type: "string", description: "group by key, model, day (UTC) or credential (the Copilot seat that answered)", default: "key" },
  json: { type: "boolean", description: "print JSON", default: false },
} as const;

/** `usage` without the printing: the flags checked before the database is opened. */
export async function usageFromArgs(
  args: ParsedArgs<typeof usageArgs>,
  now = Date.now(),
  env: Record<string, string | undefined> = process.env,
): Promise<UsageReport> {
  const options = { since: parseSince(args.since, now, "--since "), by: parseGroup("--by", args.by), key: args.key };
  const url = databaseUrl(args["database-url"], env);
  if (url) {
    // The driver is loaded only for a PostgreSQL store.
    const [{ withPgStore }, { pgUsage }] = await Promise.all([import("~/db/postgres"), import("./pg")]);
    return withPgStore(url, (pg) => buildReport(pgUsage(pg.db), options, now));
  }
  return withStore(dbPath(args["db-path"], env), env, (store) => buildReport(sqliteUsage(store), options, now));
}

export const usageCommand = defineCommand({
  meta: { name: "usage", description: "Who used how much, of which model, when" },
  args: usageArgs,
  run: guarded(async ({ args }, io) => {
    const report = await usageFromArgs(args, Date.now(), io.env);
    io.print(args.json ? JSON.stringify(report, null, 2) : formatReport(report));
  }),
});
