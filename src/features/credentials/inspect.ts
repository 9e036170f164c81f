import type { Store } from "~/db";
import type { CredentialKind } from "~/db/schema";
import { appendAudit, cliActor } from "~/features/audit";
import { log } from "~/lib/log";
import type { UpstreamUrls } from "~/upstream/config";
import { CopilotClient } from "~/upstream/copilot-client";
import { CopilotToken } from "~/upstream/copilot-token";
import { fetchCopilotUser } from "~/upstream/copilot-user";
import { type CredentialRow, type CredentialView, credentialByLabel, viewOf } from "./queries";
import type { CredentialVault } from "./vault";

/** What GitHub and Copilot say about a token: whose it is, its plan, how many models it may use. */
export interface TokenReport {
  githubLogin: string | null;
  plan: string | null;
  models: number;
}

/** Strings from GitHub are kept bounded. */
const bounded = (value: unknown) => (typeof value === "string" && value ? value.slice(0, 100) : null);

/**
 * Checks a GitHub token the way a seat will use it: the Copilot token exchange,
 * then the model catalog, then the account and plan. Throws the AppError of the
 * step that failed (it says what is wrong and what to do).
 */
export async function inspectToken(urls: UpstreamUrls, githubToken: string, label: string): Promise<TokenReport> {
  const token = new CopilotToken(urls, githubToken, { credential: label });
  const models = await new CopilotClient(urls, token).models();
  const user = await fetchCopilotUser(urls, githubToken);
  return { githubLogin: bounded(user.login), plan: bounded(user.copilot_plan), models: models.length };
}

/** Checks the token, then seals and stores it under the label (`auth --label`, `credentials add`), audited as the OS user. */
export async function addCredential(
  store: Store,
  vault: CredentialVault,
  urls: UpstreamUrls,
  spec: { label: string; kind: CredentialKind; token: string },
): Promise<CredentialRow> {
  const report = await inspectToken(urls, spec.token, spec.label);
  const row = store.transaction((tx) => {
    const before = credentialByLabel(tx, spec.label);
    const added = vault.add(tx, { ...spec, githubLogin: report.githubLogin, plan: report.plan });
    appendAudit(tx, { ...cliActor(), action: "credential.added", target: added.id, before: before && viewOf(before), after: viewOf(added) });
    return added;
  });
  saidStored(row, report, vault);
  return row;
}

/** What adding a credential says once it is stored: never the token, and where its key file is. */
export function saidStored(row: CredentialView, report: TokenReport, vault: CredentialVault): void {
  log.success(
    `credential ${row.label} stored (${row.kind}, GitHub ${row.githubLogin ?? "(unknown login)"}, plan ${row.plan ?? "(unknown)"}, ${report.models} models); its token is sealed with ${vault.box.keyPath}: back that file up apart from the database`,
  );
}
