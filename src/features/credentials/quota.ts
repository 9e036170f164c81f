import { withStore } from "~/db";
import { type CredentialQuotas, quotaOf } from "~/features/quota";
import { describeError } from "~/lib/errors";
import { listCredentials } from "./queries";
import { CredentialVault } from "./vault";

/** `quota`'s credentials: each one's token opened and its counters asked of GitHub, side by side. */
export const credentialQuotas: CredentialQuotas = async (path, urls, env) => {
  const rows = await withStore(path, env, (store) => {
    const vault = new CredentialVault(store);
    return listCredentials(store.db).map((row) => {
      try {
        return { row, token: vault.token(row) };
      } catch (error) {
        return { row, error: describeError(error) };
      }
    });
  });
  return Promise.all(rows.map(async ({ row, token, error }) => ({ label: row.label, id: row.id, ...(token ? await quotaOf(urls, token) : { error }) })));
};
