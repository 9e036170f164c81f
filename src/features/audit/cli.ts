import { defineCommand } from "citty";
import { withStore } from "~/db";
import { AUDIT_ACTIONS } from "~/db/schema";
import { databaseUrl, databaseUrlArg, dbPathArg, guarded } from "~/lib/cli";
import { dbPath } from "~/lib/paths";
import { textTable } from "~/lib/table";
import { type AuditLog, sqliteAuditLog } from "./queries";
import { type AuditQueryInput, auditJson, readAudit } from "./read";

const brief = (value: unknown) => (value === null || value === undefined ? "" : JSON.stringify(value).slice(0, 120));

export const auditCommand = defineCommand({
  meta: { name: "audit", description: "Show the audit log: who did which admin action (keys, dashboard sign-ins, retention, migrations), from where, when" },
  args: {
    ...dbPathArg,
    ...databaseUrlArg,
    since: { type: "string", description: "from this far back (24h, 7d) or this date (2026-11-01)", valueHint: "7d|DATE" },
    key: { type: "string", description: "only entries by or about this key id", valueHint: "key_…" },
    action: { type: "string", description: `only this action: ${AUDIT_ACTIONS.join(", ")}`, valueHint: "ACTION" },
    json: { type: "boolean", description: "print JSON", default: false },
  },
  run: guarded(async ({ args }, io) => {
    const input: AuditQueryInput = { since: args.since, key: args.key, action: args.action };
    const read = (log: AuditLog) => readAudit(log, input, Date.now(), "--since ");
    const url = databaseUrl(args["database-url"], io.env);
    // The driver is loaded only for a PostgreSQL store.
    const rows = url
      ? await Promise.all([import("~/db/postgres"), import("./pg")]).then(([{ withPgStore }, { pgAuditLog }]) =>
          withPgStore(url, (pg) => read(pgAuditLog(pg.db))),
        )
      : await withStore(dbPath(args["db-path"], io.env), io.env, (store) => read(sqliteAuditLog(store.db)));
    if (args.json) {
      io.print(JSON.stringify(rows.map(auditJson), null, 2));
      return;
    }
    if (rows.length === 0) {
      io.print("no audit entries match");
      return;
    }
    const header = ["TIME (UTC)", "ACTION", "ACTOR", "FROM", "TARGET", "BEFORE", "AFTER"];
    const body = rows.map((r) => [
      new Date(r.ts).toISOString().replace("T", " ").slice(0, 19),
      r.action,
      `${r.actorKind}:${r.actor}`,
      r.address ?? "-",
      r.target ?? "-",
      brief(r.before),
      brief(r.after),
    ]);
    io.print(textTable(header, body));
  }),
});
