import { type CommandDef, defineCommand } from "citty";
import { guarded } from "~/lib/cli";
import { startArgs, startOptions } from "~/start-args";

const startCommand = defineCommand({
  meta: { name: "start", description: "Open and migrate the database, then serve the OpenAI-compatible API" },
  args: startArgs,
  run: guarded(async ({ args }, io) => {
    const { start } = await import("~/start");
    return start(startOptions(args, io.env));
  }),
});

// biome-ignore lint/suspicious/noExplicitAny: citty's own SubCommandsDef holds commands of any args, as `any`.
type AnyCommand = CommandDef<any>;

// `db restore` belongs to the replication feature (it runs Litestream); src/db knows nothing of features.
async function dbWithRestore(): Promise<AnyCommand> {
  const [{ dbCommand }, { restoreCommand }] = await Promise.all([import("~/db/cli"), import("~/features/replication/restore")]);
  return defineCommand({ ...dbCommand, subCommands: { ...(dbCommand.subCommands as Record<string, AnyCommand>), restore: restoreCommand } });
}

async function quotaCommand(): Promise<AnyCommand> {
  const [{ quotaCommandWith }, { credentialQuotas }] = await Promise.all([import("~/features/quota/cli"), import("~/features/credentials/quota")]);
  return quotaCommandWith(credentialQuotas);
}

// `dashboard --create-key --database-url` creates its key with the keys feature's Postgres writes (audited, NOTIFY'd).
async function dashboardCommand(): Promise<AnyCommand> {
  const { dashboardCommandWith } = await import("~/features/dashboard/cli");
  return dashboardCommandWith(async (pg) => (await import("~/features/keys/cli-pg")).pgKeyAdmin(pg));
}

/**
 * Every command and flag: run by src/main.ts, read by the docs test. Each command
 * but `start` is loaded when it runs (citty resolves the one named), so a server
 * loads none of the CLI's code and a CLI command none of the server's.
 */
export const main = defineCommand({
  meta: { name: "copilot-api", version: "0.1.0", description: "A local OpenAI-compatible gateway in front of GitHub Copilot" },
  subCommands: {
    start: startCommand,
    auth: () => import("~/features/auth/cli").then((m) => m.authCommand),
    keys: () => import("~/features/keys/cli").then((m) => m.keysCommand),
    audit: () => import("~/features/audit/cli").then((m) => m.auditCommand),
    credentials: () => import("~/features/credentials/cli").then((m) => m.credentialsCommand),
    usage: () => import("~/features/usage/cli").then((m) => m.usageCommand),
    db: dbWithRestore,
    doctor: () => import("~/features/doctor/cli").then((m) => m.doctorCommand),
    quota: quotaCommand,
    "claude-code": () => import("~/features/claude-code/cli").then((m) => m.claudeCodeCommand),
    dashboard: dashboardCommand,
  },
});
