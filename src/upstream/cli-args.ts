import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";
import { ACCOUNT_TYPES } from "./config";
import { type GithubTokenFlags, resolveGithubToken, type TokenSource } from "./github-token";

/** The flags that say which upstream to talk to, shared by start, auth, doctor and quota. */
export const enterpriseUrlArg = {
  "enterprise-url": {
    type: "string",
    description: "GitHub Enterprise Cloud (GHE.com) tenant host, e.g. octocorp.ghe.com: sign-in, token and Copilot API on that host",
    valueHint: "HOST",
  },
} as const;

/** Where the GitHub token comes from: start, doctor and quota take the same two flags. */
export const githubTokenArgs = {
  "github-token-file": {
    type: "string",
    description: "read the GitHub token from this file (default: $GH_TOKEN, else the one `auth` saved)",
    valueHint: "PATH",
  },
  "github-token": {
    type: "string",
    description: "GitHub token on the command line: visible to every local user in `ps`; prefer --github-token-file or $GH_TOKEN",
    valueHint: "TOKEN",
  },
} as const;

export const accountTypeArg = {
  "account-type": { type: "string", description: `Copilot plan: ${ACCOUNT_TYPES.join(", ")}`, default: "individual", valueHint: "TYPE" },
} as const;

export const upstreamArgs = {
  ...accountTypeArg,
  ...enterpriseUrlArg,
  ...githubTokenArgs,
} as const;

/** The two token flags as parsed by citty. */
export const githubTokenFlags = (args: { "github-token"?: string; "github-token-file"?: string }): GithubTokenFlags => ({
  token: args["github-token"],
  file: args["github-token-file"],
});

/** The GitHub token for a one-shot command, or an error saying how to get one. */
export function requireGithubToken(flags: GithubTokenFlags, env: Record<string, string | undefined>): { token: string; source: TokenSource } {
  const github = resolveGithubToken(flags, env);
  if (!github) throw new AppError("no GitHub token", `run \`${cmd("auth")}\`, or pass --github-token-file or GH_TOKEN`);
  return github;
}
