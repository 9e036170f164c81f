import { defineCommand } from "citty";
import { withStore } from "~/db";
import { dbPathArg, guarded } from "~/lib/cli";
import { dbPath } from "~/lib/paths";
import { buildReport, formatReport, parseGroup, parseWindow } from "./report";

export const usageCommand = defineCommand({
  meta: { name: "usage", description: "Who used how much, of which model, when" },
  args: {
    ...dbPathArg,
    since: { type: "string", description: "window reaching back from now: 24h, 7d, 30d, …", default: "24h" },
    key: { type: "string", description: "only this key id", valueHint: "ID" },
    by: { type: "string", description: "group by key, model, day (UTC) or credential (the Copilot seat that answered)", default: "key" },
    json: { type: "boolean", description: "print JSON", default: false },
  },
  run: guarded(async ({ args }, io) => {
    const options = { windowMs: parseWindow("--since", args.since), by: parseGroup("--by", args.by), key: args.key };
    const report = await withStore(dbPath(args["db-path"], io.env), io.env, (store) => buildReport(store.db, options));
    io.print(args.json ? JSON.stringify(report, null, 2) : formatReport(report));
  }),
});
