import { defineCommand } from "citty";
import { type PgStore, withStore } from "~/db";
import { cliActor, type KeyAdmin, sqliteKeyAdmin } from "~/features/audit";
import { databaseUrl, databaseUrlArg, dbPathArg, guarded, parsePort } from "~/lib/cli";
import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { isActiveAdmin } from "./sessions";
import { LINK_TTL_MS, type SignInLinks, sqliteSignInLinks } from "./sign-in-link";

/** The keys a link is made for: read, and created (audited) with --create-key. */
type AdminKeys = Pick<KeyAdmin, "get" | "list" | "create">;

/** The admin key a link signs in as: the one named, else the newest active admin key, else a new one with --create-key. */
async function adminKeyFor(keys: AdminKeys, wanted: string | undefined, create: boolean, now: number): Promise<string> {
  if (wanted) {
    const key = await keys.get(wanted);
    if (!key || !isActiveAdmin(key, now)) throw new AppError(`${wanted} is not an active admin key`, `\`${cmd("keys list")}\` shows the keys and their tier`);
    return wanted;
  }
  const newest = (await keys.list(false)).filter((key) => isActiveAdmin(key, now)).sort((a, b) => b.createdAt - a.createdAt)[0];
  if (newest) return newest.id;
  if (!create) {
    throw new AppError(
      "there is no active admin key to sign in with",
      `rerun with --create-key (it creates an admin key named dashboard; once any key exists, every API request needs one), or create one with \`${cmd("keys create --tier admin")}\``,
    );
  }
  const { row } = await keys.create({ tier: "admin", label: "dashboard", allowedModels: ["*"], rateLimit: null }, cliActor(), now);
  log.warn(`created admin key ${row.id} (dashboard) for the dashboard; from now on every API request needs a key (\`${cmd("keys create")}\`)`);
  return row.id;
}

/** A link for the admin key chosen, stored in the store the gateways serve from. */
async function linkFor(keys: AdminKeys, links: SignInLinks, args: { key?: string; "create-key": boolean }, now: number): Promise<string> {
  return links.create(await adminKeyFor(keys, args.key, args["create-key"], now), now);
}

/**
 * `dashboard`; `pgKeys` gives the keys of a PostgreSQL store (the keys feature's, with their audit
 * entry and NOTIFY), handed in by src/commands.ts so this feature does not import that one.
 */
export const dashboardCommandWith = (pgKeys: (pg: PgStore) => Promise<AdminKeys>) =>
  defineCommand({
    meta: { name: "dashboard", description: "Print a one-time link that signs a browser in to the dashboard (good for 10 minutes, one use)" },
    args: {
      port: { type: "string", description: "the port `start` listens on", default: "4141", alias: "p" },
      host: { type: "string", description: "the address `start` listens on", default: "127.0.0.1" },
      "base-url": { type: "string", description: "the server's URL as the browser reaches it (default: http://HOST:PORT)", valueHint: "URL" },
      key: { type: "string", description: "the admin key to sign in as (default: the newest active admin key)", valueHint: "ID" },
      "create-key": { type: "boolean", description: "create an admin key named dashboard when there is none", default: false },
      ...dbPathArg,
      ...databaseUrlArg,
    },
    run: guarded(async ({ args }, io) => {
      const host = args.host === "0.0.0.0" || args.host === "::" ? "127.0.0.1" : args.host;
      const base = (args["base-url"] ?? `http://${host.includes(":") ? `[${host}]` : host}:${parsePort(args.port)}`).replace(/\/+$/, "");
      const now = Date.now();
      const url = databaseUrl(args["database-url"], io.env);
      // The driver is loaded only for a PostgreSQL store; any gateway on it takes the link.
      const token = url
        ? await Promise.all([import("~/db/postgres"), import("./pg")]).then(([{ withPgStore }, { pgSignInLinks }]) =>
            withPgStore(url, async (pg) => linkFor(await pgKeys(pg), pgSignInLinks(pg.db), args, now)),
          )
        : await withStore(dbPath(args["db-path"], io.env), io.env, (store) => linkFor(sqliteKeyAdmin(store), sqliteSignInLinks(store.db), args, now));
      io.print(`${base}/dashboard/link?token=${token}`);
      log.info(`open it in a browser within ${LINK_TTL_MS / 60_000} minutes; it works once`);
    }),
  });
