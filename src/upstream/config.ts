import { AppError } from "~/lib/errors";

export const ACCOUNT_TYPES = ["individual", "business", "enterprise"] as const;
export type AccountType = (typeof ACCOUNT_TYPES)[number];

/** The OAuth app the Copilot editor plugins use; GitHub only issues Copilot tokens to it. */
export const GITHUB_CLIENT_ID = "Iv1.b507a08c87ecfe98";
export const GITHUB_SCOPES = "read:user";

type Env = Record<string, string | undefined>;

/**
 * What copilot-api says it is to Copilot: the editor and plugin a current VS Code
 * sends (checked 2026-11 against VS Code 1.129/1.130 with copilot-chat 0.58/0.59
 * and the gateways that follow them). Copilot has rejected stale clients
 * (HTTP 466, February 2026) and gates models on `editor-version`, so each value
 * can be overridden by an environment variable without a release.
 */
export const CLIENT_DEFAULTS = {
  editorVersion: "vscode/1.130.0",
  pluginVersion: "copilot-chat/0.58.0",
  /** x-github-api-version on the Copilot API. */
  apiVersion: "2026-06-01",
  /** x-github-api-version on api.github.com (token exchange, copilot_internal/user): what the editor sends there. */
  githubApiVersion: "2025-04-01",
  integrationId: "vscode-chat",
} as const;

/** The environment variable that overrides each part of the client identity. */
export const IDENTITY_ENV = {
  editorVersion: "COPILOT_API_EDITOR_VERSION",
  pluginVersion: "COPILOT_API_PLUGIN_VERSION",
  userAgent: "COPILOT_API_USER_AGENT",
  apiVersion: "COPILOT_API_API_VERSION",
  githubApiVersion: "COPILOT_API_GITHUB_API_VERSION",
  integrationId: "COPILOT_API_INTEGRATION_ID",
} as const;

export interface ClientIdentity {
  editorVersion: string;
  pluginVersion: string;
  userAgent: string;
  apiVersion: string;
  githubApiVersion: string;
  integrationId: string;
  /** The parts that came from an environment variable (doctor says so). */
  overridden: (keyof typeof IDENTITY_ENV)[];
}

const HEADER_VALUE = /^[\x21-\x7e][\x20-\x7e]{0,199}$/;

/**
 * The identity sent upstream: defaults, each overridable by its environment
 * variable. The user agent follows the plugin version unless set itself.
 * A value that is not a valid header value is refused with the variable named.
 */
export function clientIdentity(env: Env = process.env): ClientIdentity {
  const overridden: ClientIdentity["overridden"] = [];
  const pick = (part: keyof typeof IDENTITY_ENV, fallback: string): string => {
    const raw = env[IDENTITY_ENV[part]]?.trim();
    if (!raw) return fallback;
    if (!HEADER_VALUE.test(raw)) {
      throw new AppError(
        `${IDENTITY_ENV[part]} is not a usable header value (printable ASCII, at most 200 characters)`,
        `fix or unset ${IDENTITY_ENV[part]}; the default is "${fallback}"`,
      );
    }
    overridden.push(part);
    return raw;
  };
  const pluginVersion = pick("pluginVersion", CLIENT_DEFAULTS.pluginVersion);
  const pluginNumber = pluginVersion.match(/^copilot-chat\/(\S+)$/)?.[1];
  return {
    editorVersion: pick("editorVersion", CLIENT_DEFAULTS.editorVersion),
    pluginVersion,
    userAgent: pick("userAgent", `GitHubCopilotChat/${pluginNumber ?? CLIENT_DEFAULTS.pluginVersion.split("/")[1]}`),
    apiVersion: pick("apiVersion", CLIENT_DEFAULTS.apiVersion),
    githubApiVersion: pick("githubApiVersion", CLIENT_DEFAULTS.githubApiVersion),
    integrationId: pick("integrationId", CLIENT_DEFAULTS.integrationId),
    overridden,
  };
}

/** Every upstream base URL. Tests point them at a fake on loopback. */
export interface UpstreamUrls {
  /** github.com (or the GHE.com tenant): the device flow. */
  github: string;
  /** api.github.com (or api.<tenant>): the Copilot token exchange and copilot_internal/user. */
  githubApi: string;
  /** The Copilot API when the token names none: by account type, or copilot-api.<tenant>. */
  copilot: string;
  /** COPILOT_API_COPILOT_URL: wins over everything, the token's endpoints.api included. */
  copilotOverride?: string;
  /** The GHE.com tenant host, when --enterprise-url was given. */
  enterprise?: string;
}

export interface UrlOptions {
  /** --enterprise-url: a GitHub Enterprise Cloud (GHE.com) host such as `octocorp.ghe.com`. */
  enterpriseUrl?: string;
  env?: Env;
}

const trim = (url: string) => url.replace(/\/+$/, "");

/**
 * The upstream URLs, most specific first: the COPILOT_API_*_URL variables win;
 * then --enterprise-url (device flow at https://HOST, the GitHub API at
 * https://api.HOST, Copilot at https://copilot-api.HOST, as the editor builds them
 * for GHE.com); then github.com and the account type's Copilot URL.
 */
export function upstreamUrls(accountType: AccountType, options: UrlOptions = {}): UpstreamUrls {
  const env = options.env ?? process.env;
  const tenant = options.enterpriseUrl === undefined ? undefined : parseEnterpriseUrl(options.enterpriseUrl);
  const at = (prefix: string) => (tenant ? `${tenant.scheme}://${prefix}${tenant.host}` : undefined);
  const override = env.COPILOT_API_COPILOT_URL?.trim();
  return {
    github: trim(env.COPILOT_API_GITHUB_URL || at("") || "https://github.com"),
    githubApi: trim(env.COPILOT_API_GITHUB_API_URL || at("api.") || "https://api.github.com"),
    copilot: trim(at("copilot-api.") ?? (accountType === "individual" ? "https://api.githubcopilot.com" : `https://api.${accountType}.githubcopilot.com`)),
    ...(override ? { copilotOverride: trim(override) } : {}),
    ...(tenant ? { enterprise: tenant.host } : {}),
  };
}

/** The Copilot API base URL for a token: the env override, else the token's endpoints.api, else the fallback. */
export function copilotBaseUrl(urls: UpstreamUrls, endpointsApi?: string): string {
  return urls.copilotOverride ?? endpointsApi ?? urls.copilot;
}

/**
 * `octocorp.ghe.com` or `https://octocorp.ghe.com`. Plain http is accepted only
 * for `localhost` names (tests), never for a real tenant: the GitHub token would
 * travel in clear.
 */
export function parseEnterpriseUrl(value: string): { scheme: "https" | "http"; host: string } {
  const hint = "pass the tenant's host, e.g. --enterprise-url octocorp.ghe.com";
  const raw = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new AppError(`--enterprise-url ${JSON.stringify(value.slice(0, 100))} is not a host name`, hint);
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.username || url.password || !url.hostname) {
    throw new AppError(`--enterprise-url ${JSON.stringify(value.slice(0, 100))} must be just a host, without a path`, hint);
  }
  const local = url.hostname === "localhost" || url.hostname.endsWith(".localhost");
  if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) {
    throw new AppError(`--enterprise-url ${JSON.stringify(value.slice(0, 100))} must use https`, hint);
  }
  return { scheme: url.protocol === "http:" ? "http" : "https", host: url.host.toLowerCase() };
}

/** The endpoints.api a token exchange names, when it is a usable http(s) URL. */
export function parseEndpointsApi(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > 500) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? trim(url.href) : undefined;
  } catch {
    return undefined;
  }
}

/** Headers for api.github.com: the token exchange and copilot_internal/user. */
export function githubHeaders(githubToken: string, identity: ClientIdentity = clientIdentity()): Record<string, string> {
  return {
    accept: "application/json",
    authorization: `token ${githubToken}`,
    "editor-version": identity.editorVersion,
    "editor-plugin-version": identity.pluginVersion,
    "user-agent": identity.userAgent,
    "x-github-api-version": identity.githubApiVersion,
  };
}

/** The headers Copilot's API expects from an editor. */
export function copilotHeaders(
  copilotToken: string,
  options: { vision?: boolean; initiator?: "user" | "agent" } = {},
  identity: ClientIdentity = clientIdentity(),
): Record<string, string> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${copilotToken}`,
    "content-type": "application/json",
    "copilot-integration-id": identity.integrationId,
    "editor-version": identity.editorVersion,
    "editor-plugin-version": identity.pluginVersion,
    "user-agent": identity.userAgent,
    "x-github-api-version": identity.apiVersion,
    "openai-intent": "conversation-panel",
    "x-request-id": crypto.randomUUID(),
  };
  if (options.vision) headers["copilot-vision-request"] = "true";
  if (options.initiator) headers["x-initiator"] = options.initiator;
  return headers;
}
