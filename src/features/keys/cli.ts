import { defineCommand } from "citty";
import { withStore } from "~/db";
import { KEY_TIERS } from "~/db/schema";
import { dbPathArg, guarded, parseChoice, parsePositive } from "~/lib/cli";
import { AppError } from "~/lib/errors";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { textTable } from "~/lib/table";
import { createKey } from "./manage";
import { parseModelList } from "./models";
import { type KeyRow, keyById, listKeys, revokeKey } from "./queries";

const time = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString().replace("T", " ").slice(0, 19));

/** A key as the CLI shows it: never the secret, never the hash. */
function publicView(row: KeyRow) {
  return {
    id: row.id,
    tier: row.tier,
    label: row.label,
    allowedModels: row.allowedModels,
    rateLimit: row.rateLimit,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}

function table(rows: KeyRow[]): string {
  const header = ["ID", "TIER", "LABEL", "MODELS", "RATE/MIN", "CREATED", "LAST USED", "STATUS"];
  const body = rows.map((r) => [
    r.id,
    r.tier,
    r.label || "-",
    r.allowedModels.join(","),
    r.rateLimit?.toString() ?? "-",
    time(r.createdAt),
    time(r.lastUsedAt),
    r.revokedAt ? `revoked ${time(r.revokedAt)}` : "active",
  ]);
  return textTable(header, body);
}

function findOrFail(row: KeyRow | undefined, id: string): KeyRow {
  if (!row) throw new AppError(`no key with id ${id}`, "list the keys with `copilot-api keys list --all`");
  return row;
}

const create = defineCommand({
  meta: { name: "create", description: "Create an API key and print its secret (shown only this once)" },
  args: {
    ...dbPathArg,
    tier: { type: "string", description: `${KEY_TIERS.join(" or ")}: admin keys may also read /admin routes`, default: "client" },
    label: { type: "string", description: "a note for you: who or what uses it", default: "" },
    models: { type: "string", description: "allowed models, comma-separated names or globs (default: every model)", valueHint: "gpt-4o,claude-*" },
    "rate-limit": { type: "string", description: "requests per minute (default: unlimited)", valueHint: "N" },
    json: { type: "boolean", description: "print JSON", default: false },
  },
  run: guarded(async ({ args }) => {
    // Validate everything before opening the database: bad input writes nothing.
    const tier = parseChoice("--tier", args.tier, KEY_TIERS);
    const allowedModels = args.models === undefined ? ["*"] : parseModelList(args.models);
    const rateLimit = args["rate-limit"] === undefined ? null : Math.round(parsePositive("--rate-limit", args["rate-limit"]));
    const { row, secret } = await withStore(dbPath(args["db-path"]), (store) => createKey(store.db, { tier, label: args.label, allowedModels, rateLimit }));
    if (args.json) {
      console.log(JSON.stringify({ ...publicView(row), secret }, null, 2));
      return;
    }
    console.log(secret);
    log.success(`created ${row.tier} key ${row.id}${row.label ? ` (${row.label})` : ""}; the secret above is shown only once: store it now`);
  }),
});

const list = defineCommand({
  meta: { name: "list", description: "List API keys (never their secrets)" },
  args: {
    ...dbPathArg,
    all: { type: "boolean", description: "include revoked keys", default: false },
    json: { type: "boolean", description: "print JSON", default: false },
  },
  run: guarded(async ({ args }) => {
    const rows = await withStore(dbPath(args["db-path"]), (store) => listKeys(store.db, { includeRevoked: args.all }));
    if (args.json) console.log(JSON.stringify(rows.map(publicView), null, 2));
    else console.log(rows.length ? table(rows) : "no keys yet: create one with `copilot-api keys create`");
  }),
});

const show = defineCommand({
  meta: { name: "show", description: "Show one API key" },
  args: {
    ...dbPathArg,
    id: { type: "positional", description: "key id (key_…)", required: true },
    json: { type: "boolean", description: "print JSON", default: false },
  },
  run: guarded(async ({ args }) => {
    const row = findOrFail(await withStore(dbPath(args["db-path"]), (store) => keyById(store.db, args.id)), args.id);
    if (args.json) console.log(JSON.stringify(publicView(row), null, 2));
    else console.log(table([row]));
  }),
});

const revoke = defineCommand({
  meta: { name: "revoke", description: "Revoke an API key; a running server refuses it from the next request" },
  args: { ...dbPathArg, id: { type: "positional", description: "key id (key_…)", required: true } },
  run: guarded(async ({ args }) => {
    await withStore(dbPath(args["db-path"]), (store) => {
      const row = findOrFail(keyById(store.db, args.id), args.id);
      if (row.revokedAt !== null || !revokeKey(store.db, args.id)) {
        throw new AppError(`key ${args.id} was already revoked at ${time(row.revokedAt)}`, "nothing to do; `copilot-api keys list` shows the active keys");
      }
    });
    log.success(`revoked ${args.id}`);
  }),
});

export const keysCommand = defineCommand({
  meta: { name: "keys", description: "Create, list, show and revoke API keys" },
  subCommands: { create, list, show, revoke },
});
