// The upstream half of a composition, in a module of its own: the boot builds it before its port opens (the
// GitHub token and URLs are checks that can refuse the start, and the token exchange and model catalog can run
// while the app loads), without loading the app.
import { QuotaSource } from "~/features/quota/quota";
import { cmd } from "~/lib/command-name";
import { log } from "~/lib/log";
import type { BodyReads } from "~/protocols/body-read";
import { type AccountType, upstreamUrls } from "~/upstream/config";
import { DefaultUpstream } from "~/upstream/default-upstream";
import { defaultTokenSource, resolveGithubToken } from "~/upstream/github-token";
import type { KeptTokens } from "~/upstream/kept-token";

/** What the upstream half is built from: part of ComposeOptions. */
export interface UpstreamOptions {
  accountType: AccountType;
  githubToken?: string;
  /** --github-token-file: read the token from this file. */
  githubTokenFile?: string;
  /** --enterprise-url: a GHE.com tenant host. */
  enterpriseUrl?: string;
  bodyLimitBytes: number;
  /** --web-search-model: the model that runs the web searches the gateway fulfils (default: a cheap one offering /responses). */
  webSearchModel?: string;
  /** The count of bodies arriving per address; one of the app's own by default (tests pass a smaller one). */
  bodyReads?: BodyReads;
  /** Where GH_TOKEN and the COPILOT_API_*_URL overrides are read; process.env by default. */
  env?: Record<string, string | undefined>;
  /** Admin quota source; by default the GitHub token's (none without a token). */
  quota?: QuotaSource;
}

/** The upstream half every composition shares, whatever the store: the GitHub token, its URLs, the default Copilot client. */
export function upstreamOf(options: UpstreamOptions, kept?: KeptTokens) {
  const env = options.env ?? process.env;
  const github = resolveGithubToken({ token: options.githubToken, file: options.githubTokenFile }, env);
  const urls = upstreamUrls(options.accountType, { enterpriseUrl: options.enterpriseUrl, env });
  // The default token's Copilot client and catalog, built again when `auth` (or --github-token-file's file) brings a new token.
  // Its Copilot token is kept sealed beside the SQLite database when there is one: a restart within the token's lifetime needs no exchange.
  const defaultUpstream = new DefaultUpstream(urls, github?.token, defaultTokenSource({ file: options.githubTokenFile }, github?.source, env), undefined, kept);
  if (github) log.info(`GitHub token from ${github.source}; Copilot account type ${options.accountType}`);
  else
    log.warn(
      `no GitHub token: proxy routes answer 503 until you run \`${cmd("auth")}\` (picked up without a restart), or restart with --github-token-file / GH_TOKEN`,
    );
  return { github, urls, defaultUpstream, quota: options.quota ?? (github && new QuotaSource(urls, github.token)) };
}

/** A composition's upstream half, built once (by the boot before its port opens, or by compose()). */
export type UpstreamHalf = ReturnType<typeof upstreamOf>;

/** What createApp is given from the options alone, whatever the store. */
export const upstreamDeps = (options: UpstreamOptions, { copilot, catalog }: ReturnType<DefaultUpstream["current"]>) => ({
  copilot,
  catalog,
  bodyLimitBytes: options.bodyLimitBytes,
  bodyReads: options.bodyReads,
  webSearchModel: options.webSearchModel,
});
