import { withStore } from "~/db";
import { databaseUrl } from "~/lib/cli";
import { dbPath } from "~/lib/paths";
import type { UpstreamUrls } from "~/upstream/config";
import { addCredential } from "./inspect";
import { CredentialVault } from "./vault";

/**
 * A token checked, sealed and stored as a credential, in the store the flags name: the PostgreSQL
 * database of --database-url (every gateway on it is told), else the SQLite file. For
 * `credentials add` and `auth --label`.
 */
export async function storeCredential(
  args: { "db-path"?: string; "database-url"?: string },
  env: Record<string, string | undefined>,
  urls: UpstreamUrls,
  spec: { label: string; kind: "pat" | "oauth"; token: string },
): Promise<void> {
  const url = databaseUrl(args["database-url"], env);
  if (url) {
    const [{ addCredentialPg, pgCredentialVault }, { withPgStore }] = await Promise.all([import("./pg"), import("~/db/postgres")]);
    await withPgStore(url, (pg) => addCredentialPg(pg, pgCredentialVault(env), urls, spec));
    return;
  }
  await withStore(dbPath(args["db-path"], env), env, (store) => addCredential(store, new CredentialVault(store), urls, spec));
}
