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
import { guarded } from "~/lib/cli";
import { start } from "~/start";
import { startArgs, startOptions } from "~/start-args";

const startCommand = defineCommand({
  meta: { name: "start", description: "Open and migrate the database, then serve the OpenAI-compatible API" },
  args: startArgs,
  run: guarded(({ args }) => start(startOptions(args))),
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
