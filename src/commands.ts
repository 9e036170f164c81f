import { defineCommand } from "citty";
import { dbCommand } from "~/db/cli";
import { auditCommand } from "~/features/audit";
import { authCommand } from "~/features/auth/cli";
import { claudeCodeCommand } from "~/features/claude-code/cli";
import { credentialQuotas, credentialsCommand } from "~/features/credentials";
import { dashboardCommand } from "~/features/dashboard/cli";
import { doctorCommand } from "~/features/doctor/cli";
import { keysCommand } from "~/features/keys/cli";
import { quotaCommandWith } from "~/features/quota";
import { restoreCommand } from "~/features/replication";
import { usageCommand } from "~/features/usage/cli";
import { databaseUrl, guarded } from "~/lib/cli";
import { AppError } from "~/lib/errors";
import { start } from "~/start";
import { startArgs, startOptions } from "~/start-args";

const startCommand = defineCommand({
  meta: { name: "start", description: "Open and migrate the database, then serve the OpenAI-compatible API" },
  args: startArgs,
  run: guarded(({ args }, io) => {
    if (databaseUrl(args["database-url"], io.env)) {
      // The schema, migrations and `db` commands work on Postgres; the request path's queries are still bun:sqlite calls.
      throw new AppError(
        "serving on PostgreSQL is not available yet: this build can migrate and inspect a Postgres store (`copilot-api db migrate|status|verify --database-url …`), but the gateway itself still runs on its SQLite file",
        "start without --database-url (and unset COPILOT_API_DATABASE_URL) to serve from the SQLite store; see docs/scaling.md",
      );
    }
    return start(startOptions(args, io.env));
  }),
});

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
    quota: quotaCommandWith(credentialQuotas),
    "claude-code": claudeCodeCommand,
    dashboard: dashboardCommand,
  },
});
