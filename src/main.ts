#!/usr/bin/env bun
import { defineCommand, runMain } from "citty";
import { dbCommand } from "~/db/cli";
import { dbPathArg, guarded, parsePort } from "~/lib/cli";
import { start } from "~/start";

const startCommand = defineCommand({
  meta: { name: "start", description: "Open and migrate the database, then serve the API" },
  args: {
    port: { type: "string", description: "port to listen on (0 picks a free one)", default: "4141", alias: "p" },
    host: { type: "string", description: "address to listen on", default: "127.0.0.1" },
    ...dbPathArg,
  },
  run: guarded(({ args }) => start({ port: parsePort(args.port), host: args.host, dbPath: args["db-path"] })),
});

const main = defineCommand({
  meta: { name: "copilot-api", version: "0.1.0", description: "A local OpenAI-compatible gateway in front of GitHub Copilot" },
  subCommands: { start: startCommand, db: dbCommand },
});

await runMain(main);
