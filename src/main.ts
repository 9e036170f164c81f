#!/usr/bin/env bun
import { defineCommand, runMain } from "citty";
import { dbCommand } from "~/db/cli";
import { authCommand } from "~/features/auth/cli";
import { claudeCodeCommand } from "~/features/claude-code/cli";
import { doctorCommand } from "~/features/doctor/cli";
import { keysCommand } from "~/features/keys/cli";
import { quotaCommand } from "~/features/quota/cli";
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

const main = defineCommand({
  meta: { name: "copilot-api", version: "0.1.0", description: "A local OpenAI-compatible gateway in front of GitHub Copilot" },
  subCommands: {
    start: startCommand,
    auth: authCommand,
    keys: keysCommand,
    usage: usageCommand,
    db: withRestore,
    doctor: doctorCommand,
    quota: quotaCommand,
    "claude-code": claudeCodeCommand,
  },
});

await runMain(main);
