import { AppError } from "~/lib/errors";
import { ACCOUNT_TYPES } from "./config";
import { resolveGithubToken, type TokenSource } from "./github-token";

/** The flags that say which upstream to talk to, shared by start, auth, doctor and quota. */
export const enterpriseUrlArg = {
  "enterprise-url": {
    type: "string",
    description: "GitHub Enterprise Cloud (GHE.com) tenant host, e.g. octocorp.ghe.com: sign-in, token and Copilot API on that host",
    valueHint: "HOST",
  },
} as const;

export const upstreamArgs = {
  "account-type": { type: "string", description: `Copilot plan: ${ACCOUNT_TYPES.join(", ")}`, default: "individual", valueHint: "TYPE" },
  ...enterpriseUrlArg,
  "github-token": { type: "string", description: "GitHub token to use (default: $GH_TOKEN, else the one `auth` saved)", valueHint: "TOKEN" },
} as const;

/** The GitHub token for a one-shot command, or an error saying how to get one. */
export function requireGithubToken(flag: string | undefined): { token: string; source: TokenSource } {
  const github = resolveGithubToken(flag);
  if (!github) throw new AppError("no GitHub token", "run `copilot-api auth`, or pass --github-token or GH_TOKEN");
  return github;
}
