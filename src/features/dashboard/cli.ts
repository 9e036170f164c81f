import { defineCommand } from "citty";
import { withStore } from "~/db";
import { createKey, keyById, listKeys } from "~/features/keys";
import { dbPathArg, guarded, parsePort } from "~/lib/cli";
import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { createSignInLink, LINK_TTL_MS } from "./sign-in-link";

/** The admin key a link signs in as: the one named, else the newest active admin key, else a new one with --create-key. */
function adminKeyFor(db: Parameters<typeof listKeys>[0], wanted: string | undefined, create: boolean, now: number): string {
  const active = (id: string) => {
    const key = keyById(db, id);
    return key && key.tier === "admin" && key.revokedAt === null && (key.expiresAt === null || key.expiresAt > now) ? key : undefined;
  };
  if (wanted) {
    if (!active(wanted)) throw new AppError(`${wanted} is not an active admin key`, `\`${cmd("keys list")}\` shows the keys and their tier`);
    return wanted;
  }
  const newest = listKeys(db, { includeRevoked: false })
    .filter((key) => active(key.id))
    .sort((a, b) => b.createdAt - a.createdAt)[0];
  if (newest) return newest.id;
  if (!create) {
    throw new AppError(
      "there is no active admin key to sign in with",
      `rerun with --create-key (it creates an admin key named dashboard; once any key exists, every API request needs one), or create one with \`${cmd("keys create --tier admin")}\``,
    );
  }
  const { row } = createKey(db, { tier: "admin", label: "dashboard", allowedModels: ["*"], rateLimit: null });
  log.warn(`created admin key ${row.id} (dashboard) for the dashboard; from now on every API request needs a key (\`${cmd("keys create")}\`)`);
  return row.id;
}

export const dashboardCommand = defineCommand({
  meta: { name: "dashboard", description: "Print a one-time link that signs a browser in to the dashboard (good for 10 minutes, one use)" },
  args: {
    port: { type: "string", description: "the port `start` listens on", default: "4141", alias: "p" },
    host: { type: "string", description: "the address `start` listens on", default: "127.0.0.1" },
    "base-url": { type: "string", description: "the server's URL as the browser reaches it (default: http://HOST:PORT)", valueHint: "URL" },
    key: { type: "string", description: "the admin key to sign in as (default: the newest active admin key)", valueHint: "ID" },
    "create-key": { type: "boolean", description: "create an admin key named dashboard when there is none", default: false },
    ...dbPathArg,
  },
  run: guarded(async ({ args }, io) => {
    const host = args.host === "0.0.0.0" || args.host === "::" ? "127.0.0.1" : args.host;
    const base = (args["base-url"] ?? `http://${host.includes(":") ? `[${host}]` : host}:${parsePort(args.port)}`).replace(/\/+$/, "");
    const now = Date.now();
    const token = await withStore(dbPath(args["db-path"], io.env), io.env, (store) =>
      createSignInLink(store.db, adminKeyFor(store.db, args.key, args["create-key"], now), now),
    );
    io.print(`${base}/dashboard/link?token=${token}`);
    log.info(`open it in a browser within ${LINK_TTL_MS / 60_000} minutes; it works once`);
  }),
});
