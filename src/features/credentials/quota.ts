import { withStore } from "~/db";
import { type CredentialQuotas, quotaOf } from "~/features/quota";
import { describeError } from "~/lib/errors";
import { type CredentialRow, listCredentials } from "./queries";
import { CredentialVault } from "./vault";

/** Each credential with its token opened, or why it could not be. */
function opened(rows: CredentialRow[], vault: CredentialVault): { row: CredentialRow; token?: string; error?: string }[] {
  return rows.map((row) => {
    try {
      return { row, token: vault.token(row) };
    } catch (error) {
      return { row, error: describeError(error) };
    }
  });
}

/** The credentials of the PostgreSQL store, opened with this machine's key file (loaded only with --database-url). */
async function openedOnPostgres(url: string, env: Record<string, string | undefined>) {
  const [{ withPgStore }, { allCredentialsPg, pgCredentialVault }] = await Promise.all([import("~/db/postgres"), import("./pg")]);
  return withPgStore(url, async (pg) => opened(await allCredentialsPg(pg), pgCredentialVault(env)));
}

/** `quota`'s credentials: each one's token opened and its counters asked of GitHub, side by side. */
export const credentialQuotas: CredentialQuotas = async ({ dbPath, databaseUrl }, urls, env) => {
  const rows = databaseUrl
    ? await openedOnPostgres(databaseUrl, env)
    : await withStore(dbPath, env, (store) => opened(listCredentials(store.db), new CredentialVault(store)));
  return Promise.all(rows.map(async ({ row, token, error }) => ({ label: row.label, id: row.id, ...(token ? await quotaOf(urls, token) : { error }) })));
};
