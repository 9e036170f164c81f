import { cmd } from "~/lib/command-name";
import { AppError, errorMessage } from "~/lib/errors";
import { type ClientIdentity, clientIdentity, githubHeaders, type UpstreamUrls } from "./config";
import { githubRefusal } from "./copilot-token";

/** One counter of GET copilot_internal/user's quota_snapshots, as GitHub sends it. */
export interface QuotaSnapshot {
  entitlement?: number;
  remaining?: number;
  quota_remaining?: number;
  percent_remaining?: number;
  unlimited?: boolean;
  overage_count?: number;
  overage_permitted?: boolean;
  quota_id?: string;
  timestamp_utc?: string;
}

/** The parts of GitHub's GET copilot_internal/user answer that copilot-api reads. */
export interface CopilotUser {
  /** The GitHub account the token belongs to. */
  login?: string;
  copilot_plan?: string;
  access_type_sku?: string;
  quota_reset_date?: string;
  quota_reset_date_utc?: string;
  quota_snapshots?: {
    premium_interactions?: QuotaSnapshot;
    chat?: QuotaSnapshot;
    completions?: QuotaSnapshot;
  };
}

/**
 * The Copilot plan and its counters, from the endpoint the editor reads them
 * from: GET {githubApi}/copilot_internal/user with the GitHub token.
 */
export async function fetchCopilotUser(urls: UpstreamUrls, githubToken: string, identity: ClientIdentity = clientIdentity()): Promise<CopilotUser> {
  let response: Response;
  try {
    response = await fetch(`${urls.githubApi}/copilot_internal/user`, { headers: githubHeaders(githubToken, identity) });
  } catch (error) {
    throw new AppError(`cannot reach ${urls.githubApi} for the Copilot quota: ${errorMessage(error)}`, "check your network connection");
  }
  if (!response.ok) throw await githubRefusal(response, urls.githubApi, "the Copilot quota request");
  try {
    const body = (await response.json()) as unknown;
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Error("not an object");
    return body as CopilotUser;
  } catch {
    throw new AppError("GitHub's copilot_internal/user answer is not a JSON object", `GitHub may have changed it; run \`${cmd("doctor")}\``);
  }
}
