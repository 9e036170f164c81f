import { defineCommand } from "citty";
import { withStore } from "~/db";
import type { PgStore } from "~/db/postgres";
import { appendAudit, cliActor } from "~/features/audit";
import { type CliIo, databaseUrl, databaseUrlArg, dbPathArg, guarded } from "~/lib/cli";
import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { textTable } from "~/lib/table";
import { enterpriseUrlArg } from "~/upstream/cli-args";
import { upstreamUrls } from "~/upstream/config";
import { GithubTokenRejected } from "~/upstream/copilot-token";
import { readTokenFile } from "~/upstream/github-token";
import { inspectToken } from "./inspect";
import { boundKeyCount, type CredentialRow, credentialByLabel, listCredentials, removeCredential, setCredentialState, viewOf } from "./queries";
import { storeCredential } from "./store";
import { CredentialVault, checkLabel } from "./vault";

const time = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString().replace("T", " ").slice(0, 19));

/** Runs fn on the PostgreSQL store (connected, migrated, then closed), with this CLI's Postgres half: both loaded only with --database-url. */
async function onPostgres<T>(url: string, fn: (pg: PgStore, on: typeof import("./pg")) => Promise<T>): Promise<T> {
  const [on, { withPgStore }] = await Promise.all([import("./pg"), import("~/db/postgres")]);
  return withPgStore(url, (pg) => fn(pg, on));
}

/** The token: from a file, or from stdin with `-`; never from argv, where `ps` shows it. */
async function readToken(path: string, io: CliIo): Promise<string> {
  if (path !== "-") return readTokenFile(path, "--token-file");
  const token = (await io.stdin()).trim();
  if (!token || /\s/.test(token))
    throw new AppError(
      "--token-file - read no single token from stdin",
      `pipe only the token, e.g. \`pass show gh/ci | ${cmd("credentials add --label ci --token-file -")}\``,
    );
  return token;
}

function findOrFail(row: CredentialRow | undefined, label: string): CredentialRow {
  if (!row) throw new AppError(`no credential labelled ${label}`, `list them with \`${cmd("credentials list")}\``);
  return row;
}

const add = defineCommand({
  meta: { name: "add", description: "Store a fine-grained personal access token (Copilot Requests permission) as a credential, sealed at rest" },
  args: {
    ...dbPathArg,
    ...databaseUrlArg,
    ...enterpriseUrlArg,
    label: { type: "string", description: "the credential's name, e.g. ci (adding a label again replaces its token)", required: true },
    "token-file": { type: "string", description: "read the token from this file, or from stdin with -", required: true, valueHint: "PATH|-" },
  },
  run: guarded(async ({ args }, io) => {
    const label = checkLabel(args.label);
    const token = await readToken(args["token-file"], io);
    const urls = upstreamUrls("individual", { enterpriseUrl: args["enterprise-url"], env: io.env });
    await storeCredential(args, io.env, urls, { label, kind: "pat", token });
  }),
});

const list = defineCommand({
  meta: { name: "list", description: "List the credentials (never their tokens)" },
  args: { ...dbPathArg, ...databaseUrlArg, json: { type: "boolean", description: "print JSON", default: false } },
  run: guarded(async ({ args }, io) => {
    const url = databaseUrl(args["database-url"], io.env);
    const rows = url
      ? await onPostgres(url, (pg, on) => on.listCredentialsPg(pg))
      : await withStore(dbPath(args["db-path"], io.env), io.env, (store) =>
          listCredentials(store.db).map((row) => ({ ...viewOf(row), boundKeys: boundKeyCount(store.db, row.id) })),
        );
    if (args.json) {
      io.print(JSON.stringify(rows, null, 2));
      return;
    }
    if (!rows.length) {
      io.print(`no credentials yet: add one with \`${cmd("auth --label NAME")}\` or \`${cmd("credentials add --label NAME --token-file PATH")}\``);
      return;
    }
    const header = ["LABEL", "ID", "KIND", "GITHUB", "PLAN", "STATE", "SINCE", "KEYS", "CREATED", "LAST USED"];
    const body = rows.map((r) => [
      r.label,
      r.id,
      r.kind,
      r.githubLogin ?? "-",
      r.plan ?? "-",
      r.state,
      time(r.stateSince),
      String(r.boundKeys),
      time(r.createdAt),
      time(r.lastUsedAt),
    ]);
    io.print(textTable(header, body));
  }),
});

const test = defineCommand({
  meta: { name: "test", description: "Check a credential: open its token, exchange it for a Copilot token, read its model catalog" },
  args: {
    ...dbPathArg,
    ...databaseUrlArg,
    ...enterpriseUrlArg,
    label: { type: "positional", description: "the credential's label", required: true },
  },
  run: guarded(async ({ args }, io) => {
    const urls = upstreamUrls("individual", { enterpriseUrl: args["enterprise-url"], env: io.env });
    /** Opens its token, checks it, and keeps what was found (ok, or refused) with `mark`. */
    const check = async (row: CredentialRow, vault: CredentialVault, mark: (state: "ok" | "refused") => unknown) => {
      const token = vault.token(row);
      try {
        const report = await inspectToken(urls, token, row.label);
        await mark("ok");
        log.success(
          `credential ${row.label} works: GitHub ${report.githubLogin ?? "(unknown login)"}, plan ${report.plan ?? "(unknown)"}, ${report.models} models`,
        );
      } catch (error) {
        if (error instanceof GithubTokenRejected) await mark("refused");
        throw error;
      }
    };
    const url = databaseUrl(args["database-url"], io.env);
    if (url) {
      await onPostgres(url, async (pg, on) => {
        const row = findOrFail(await on.credentialByLabelPg(pg, args.label), args.label);
        await check(row, on.pgCredentialVault(io.env), (state) => on.markCredentialPg(pg, row.id, state));
      });
      return;
    }
    await withStore(dbPath(args["db-path"], io.env), io.env, async (store) => {
      const row = findOrFail(credentialByLabel(store.db, args.label), args.label);
      await check(row, new CredentialVault(store), (state) => setCredentialState(store.db, row.id, state));
    });
  }),
});

const remove = defineCommand({
  meta: { name: "remove", description: "Remove a credential and its sealed token; refused while keys are bound to it, unless --force (which unbinds them)" },
  args: {
    ...dbPathArg,
    ...databaseUrlArg,
    label: { type: "positional", description: "the credential's label", required: true },
    force: { type: "boolean", description: "unbind the keys bound to it (they then use the default token or the pool)", default: false },
  },
  run: guarded(async ({ args }, io) => {
    const url = databaseUrl(args["database-url"], io.env);
    if (url) {
      const unbound = await onPostgres(url, (pg, on) => on.removeCredentialPg(pg, args.label, args.force));
      log.success(
        `removed credential ${args.label}${unbound ? `; ${unbound} key(s) unbound` : ""}; keys that were bound to it use the default token or the pool on every gateway within a second; a gateway whose --pool names it keeps that seat until its next start`,
      );
      return;
    }
    const unbound = await withStore(dbPath(args["db-path"], io.env), io.env, (store) =>
      store.transaction((tx) => {
        const row = findOrFail(credentialByLabel(tx, args.label), args.label);
        const bound = boundKeyCount(tx, row.id);
        if (bound > 0 && !args.force) {
          throw new AppError(
            `${bound} key(s) are bound to credential ${row.label}`,
            `bind them elsewhere (\`${cmd("keys update KEY --credential LABEL|none")}\`), or pass --force to unbind them`,
          );
        }
        removeCredential(tx, row.id);
        appendAudit(tx, { ...cliActor(), action: "credential.removed", target: row.id, before: viewOf(row), after: { keysUnbound: bound } });
        return bound;
      }),
    );
    log.success(`removed credential ${args.label}${unbound ? `; ${unbound} key(s) unbound` : ""}; a running server stops using it at its next start`);
  }),
});

export const credentialsCommand = defineCommand({
  meta: { name: "credentials", description: "GitHub credentials, each its own Copilot seat: add, list, test, remove" },
  subCommands: { add, list, test, remove },
});
