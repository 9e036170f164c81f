import { defineCommand, type ParsedArgs } from "citty";
import type { Store } from "~/db";
import { withStore } from "~/db";
import { withPgStore } from "~/db/postgres";
import { KEY_TIERS } from "~/db/schema";
import { appendAudit, cliActor, createKeyAudited } from "~/features/audit";
import { databaseUrl, databaseUrlArg, dbPathArg, guarded, parseChoice } from "~/lib/cli";
import { cmd } from "~/lib/command-name";
import { formatCredits } from "~/lib/credits";
import { AppError } from "~/lib/errors";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { textTable } from "~/lib/table";
import { spentThisMonth } from "./budget";
import { createKeyPg, listKeysPg, revokeKeyPg, showKeyPg, updateKeyPg } from "./cli-pg";
import { keySpecFrom } from "./manage";
import { premiumUsedThisMonth } from "./premium-quota";
import { bindKey, type KeyRow, keyById, keyView, listKeys, revokeKey } from "./queries";
import { type KeySettingsInput, parseKeySettings, updateKey } from "./settings";

const time = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString().replace("T", " ").slice(0, 19));

/** Premium requests are fractional (multipliers like 0.33): shown to two decimals. */
const premium = (n: number) => String(Math.round(n * 100) / 100);

/** What each key used this calendar month (UTC): premium requests (legacy unit) and nano-AIU spent. */
interface MonthUse {
  premium: Map<string, number>;
  spent: Map<string, number>;
}

/** A key as the CLI shows it: never the secret, never the hash. What it used is this calendar month's (UTC). */
function publicView(row: KeyRow, used?: MonthUse) {
  return {
    ...keyView(row),
    premiumUsedThisMonth: Math.round((used?.premium.get(row.id) ?? 0) * 100) / 100,
    spentThisMonthNanoAiu: used?.spent.get(row.id) ?? 0,
    credentialId: row.credentialId,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
  };
}

function status(row: KeyRow, now: number): string {
  if (row.revokedAt) return `revoked ${time(row.revokedAt)}`;
  if (row.expiresAt !== null && row.expiresAt <= now) return "expired";
  return "active";
}

function table(rows: KeyRow[], used: MonthUse, now = Date.now()): string {
  const header = [
    "ID",
    "TIER",
    "LABEL",
    "MODELS",
    "RATE/MIN",
    "CREDITS THIS MONTH",
    "PREMIUM THIS MONTH (LEGACY)",
    "EXPIRES",
    "CREATED",
    "LAST USED",
    "STATUS",
  ];
  const body = rows.map((r) => [
    r.id,
    r.tier,
    r.label || "-",
    r.allowedModels.join(","),
    r.rateLimit?.toString() ?? "-",
    `${formatCredits(used.spent.get(r.id) ?? 0)}${r.budgetNanoAiu === null ? "" : ` of ${formatCredits(r.budgetNanoAiu)}`}`,
    `${premium(used.premium.get(r.id) ?? 0)}${r.premiumQuota === null ? "" : ` of ${r.premiumQuota}`}`,
    time(r.expiresAt),
    time(r.createdAt),
    time(r.lastUsedAt),
    status(r, now),
  ]);
  return textTable(header, body);
}

/** Each key's use this calendar month (UTC), from the hourly totals. */
const usedThisMonth = (store: Store): MonthUse => ({ premium: premiumUsedThisMonth(store.db), spent: spentThisMonth(store.db) });

/** The flags `create` and `update` share, read into the settings input both validate the same way. */
const settingsArgs = {
  models: { type: "string", description: "allowed models, comma-separated names or globs (default: every model)", valueHint: "gpt-4o,claude-*" },
  "rate-limit": { type: "string", description: "requests per minute (default: unlimited; none removes it)", valueHint: "N|none" },
  "premium-quota": {
    type: "string",
    description: "premium requests per calendar month, UTC (default: unlimited; none removes it); past it the key gets 429 until the 1st",
    valueHint: "N|none",
  },
  budget: {
    type: "string",
    description: "GitHub AI credits per calendar month, UTC: 5usd or 500credits (1 credit = $0.01; none removes it); past it the key gets 429 until the 1st",
    valueHint: "5usd|500credits|none",
  },
  credential: {
    type: "string",
    description: "send this key's requests on this credential's Copilot seat only (its label), or none for the default token or the pool",
    valueHint: "LABEL|none",
  },
  expires: {
    type: "string",
    description: "when the key stops working: a duration from now (12h, 30d, 2w), a date (2026-12-31 = 00:00 UTC), a date-time with zone, or never",
    valueHint: "30d|DATE|never",
  },
} as const;

const settingsInput = (args: {
  label?: string;
  models?: string;
  "rate-limit"?: string;
  "premium-quota"?: string;
  budget?: string;
  expires?: string;
}): KeySettingsInput => ({
  label: args.label,
  models: args.models,
  rateLimit: args["rate-limit"],
  premiumQuota: args["premium-quota"],
  budget: args.budget,
  expires: args.expires,
});

function findOrFail(row: KeyRow | undefined, id: string): KeyRow {
  if (!row) throw new AppError(`no key with id ${id}`, `list the keys with \`${cmd("keys list --all")}\``);
  return row;
}

/** The flags of `keys create` (the tests parse them too, to create keys without a process). */
export const createArgs = {
  ...dbPathArg,
  ...databaseUrlArg,
  tier: { type: "string", description: `${KEY_TIERS.join(" or ")}: admin keys may also read /admin routes`, default: "client" },
  label: { type: "string", description: "a note for you: who or what uses it", default: "" },
  ...settingsArgs,
  json: { type: "boolean", description: "print JSON", default: false },
} as const;

/** `keys create` without the printing: validates everything before opening the database, so bad input writes nothing. */
export function createFromArgs(args: ParsedArgs<typeof createArgs>, env: Record<string, string | undefined>) {
  const tier = parseChoice("--tier", args.tier, KEY_TIERS);
  const settings = parseKeySettings(settingsInput(args));
  const url = databaseUrl(args["database-url"], env);
  if (url) {
    return withPgStore(url, (pg) => createKeyPg(pg, keySpecFrom(tier, settings), { credential: args.credential }));
  }
  return withStore(dbPath(args["db-path"], env), env, (store) => {
    const created = createKeyAudited(store, keySpecFrom(tier, settings), cliActor());
    if (args.credential === undefined) return created;
    bindKey(store.db, created.row.id, args.credential);
    const bound = keyById(store.db, created.row.id) ?? created.row;
    appendAudit(store.db, { ...cliActor(), action: "key.updated", target: bound.id, before: keyView(created.row), after: keyView(bound) });
    return { ...created, row: bound };
  });
}

const create = defineCommand({
  meta: { name: "create", description: "Create an API key and print its secret (shown only this once)" },
  args: createArgs,
  run: guarded(async ({ args }, io) => {
    const { row, secret } = await createFromArgs(args, io.env);
    if (args.json) {
      io.print(JSON.stringify({ ...publicView(row), secret }, null, 2));
      return;
    }
    io.print(secret);
    log.success(`created ${row.tier} key ${row.id}${row.label ? ` (${row.label})` : ""}; the secret above is shown only once: store it now`);
  }),
});

const list = defineCommand({
  meta: { name: "list", description: "List API keys (never their secrets)" },
  args: {
    ...dbPathArg,
    ...databaseUrlArg,
    all: { type: "boolean", description: "include revoked keys", default: false },
    json: { type: "boolean", description: "print JSON", default: false },
  },
  run: guarded(async ({ args }, io) => {
    const url = databaseUrl(args["database-url"], io.env);
    const [rows, used] = url
      ? await withPgStore(url, async (pg) => {
          const { rows, ...used } = await listKeysPg(pg, args.all);
          return [rows, used] as const;
        })
      : await withStore(dbPath(args["db-path"], io.env), io.env, (store) => [listKeys(store.db, { includeRevoked: args.all }), usedThisMonth(store)] as const);
    if (args.json)
      io.print(
        JSON.stringify(
          rows.map((r) => publicView(r, used)),
          null,
          2,
        ),
      );
    else io.print(rows.length ? table(rows, used) : `no keys yet: create one with \`${cmd("keys create")}\``);
  }),
});

const show = defineCommand({
  meta: { name: "show", description: "Show one API key" },
  args: {
    ...dbPathArg,
    ...databaseUrlArg,
    id: { type: "positional", description: "key id (key_…)", required: true },
    json: { type: "boolean", description: "print JSON", default: false },
  },
  run: guarded(async ({ args }, io) => {
    const url = databaseUrl(args["database-url"], io.env);
    const [found, used] = url
      ? await withPgStore(url, async (pg) => {
          const { row, ...used } = await showKeyPg(pg, args.id);
          return [row, used] as const;
        })
      : await withStore(dbPath(args["db-path"], io.env), io.env, (store) => [keyById(store.db, args.id), usedThisMonth(store)] as const);
    const row = findOrFail(found, args.id);
    if (args.json) io.print(JSON.stringify(publicView(row, used), null, 2));
    else io.print(table([row], used));
  }),
});

const update = defineCommand({
  meta: { name: "update", description: "Change a key's label, models, rate limit, premium quota or expiry; the secret stays the same" },
  args: {
    ...dbPathArg,
    id: { type: "positional", description: "key id (key_…)", required: true },
    label: { type: "string", description: "a note for you: who or what uses it" },
    ...settingsArgs,
    ...databaseUrlArg,
    json: { type: "boolean", description: "print the key as JSON", default: false },
  },
  run: guarded(async ({ args }, io) => {
    const url = databaseUrl(args["database-url"], io.env);
    if (url) {
      const { after: updated } = await withPgStore(url, (pg) => updateKeyPg(pg, args.id, settingsInput(args), { credential: args.credential }));
      if (args.json) io.print(JSON.stringify(publicView(updated), null, 2));
      else log.success(`updated ${updated.id}; every gateway on this database applies it within a second`);
      return;
    }
    const { after, used } = await withStore(dbPath(args["db-path"], io.env), io.env, (store) => {
      const input = settingsInput(args);
      const before = findOrFail(keyById(store.db, args.id), args.id);
      // --credential alone is a change too: updateKey would say there is nothing to change.
      const onlyCredential = args.credential !== undefined && Object.values(input).every((value) => value === undefined);
      if (args.credential !== undefined && !bindKey(store.db, args.id, args.credential)) {
        throw new AppError(`no active key with id ${args.id}`, `list the keys with \`${cmd("keys list --all")}\``);
      }
      const after = onlyCredential ? findOrFail(keyById(store.db, args.id), args.id) : updateKey(store, args.id, input).after;
      appendAudit(store.db, { ...cliActor(), action: "key.updated", target: after.id, before: keyView(before), after: keyView(after) });
      return { after, used: usedThisMonth(store) };
    });
    if (args.json) {
      io.print(JSON.stringify(publicView(after, used), null, 2));
      return;
    }
    io.print(table([after], used));
    log.success(`updated ${after.id}; a running server applies it from its next request`);
  }),
});

const revoke = defineCommand({
  meta: { name: "revoke", description: "Revoke an API key; a running server refuses it from the next request" },
  args: { ...dbPathArg, ...databaseUrlArg, id: { type: "positional", description: "key id (key_…)", required: true } },
  run: guarded(async ({ args }, io) => {
    const url = databaseUrl(args["database-url"], io.env);
    if (url) {
      await withPgStore(url, (pg) => revokeKeyPg(pg, args.id));
      log.success(`revoked ${args.id}; every gateway on this database refuses it within a second`);
      return;
    }
    await withStore(dbPath(args["db-path"], io.env), io.env, (store) =>
      store.transaction(() => {
        const row = findOrFail(keyById(store.db, args.id), args.id);
        if (row.revokedAt !== null || !revokeKey(store.db, args.id)) {
          throw new AppError(`key ${args.id} was already revoked at ${time(row.revokedAt)}`, `nothing to do; \`${cmd("keys list")}\` shows the active keys`);
        }
        appendAudit(store.db, {
          ...cliActor(),
          action: "key.revoked",
          target: args.id,
          before: keyView(row),
          after: keyView(keyById(store.db, args.id) ?? row),
        });
      }),
    );
    log.success(`revoked ${args.id}`);
  }),
});

export const keysCommand = defineCommand({
  meta: { name: "keys", description: "Create, list, show, update and revoke API keys" },
  subCommands: { create, list, show, update, revoke },
});
