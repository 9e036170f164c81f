import { randomUUID } from "node:crypto";

export const ACCOUNT_TYPES = ["individual", "business", "enterprise"] as const;
export type AccountType = (typeof ACCOUNT_TYPES)[number];

/** The OAuth app the Copilot editor plugins use; GitHub only issues Copilot tokens to it. */
export const GITHUB_CLIENT_ID = "Iv1.b507a08c87ecfe98";
export const GITHUB_SCOPES = "read:user";

const COPILOT_CHAT_VERSION = "0.26.7";
const EDITOR_VERSION = "vscode/1.99.3";
const API_VERSION = "2025-04-01";

type Env = Record<string, string | undefined>;

/** Every upstream base URL, each overridable by an environment variable (tests point them at a fake on loopback). */
export interface UpstreamUrls {
  /** github.com: the device flow. */
  github: string;
  /** api.github.com: the Copilot token exchange. */
  githubApi: string;
  /** The Copilot API for the account type. */
  copilot: string;
}

export function upstreamUrls(accountType: AccountType, env: Env = process.env): UpstreamUrls {
  const trim = (url: string) => url.replace(/\/+$/, "");
  return {
    github: trim(env.COPILOT_API_GITHUB_URL ?? "https://github.com"),
    githubApi: trim(env.COPILOT_API_GITHUB_API_URL ?? "https://api.github.com"),
    copilot: trim(
      env.COPILOT_API_COPILOT_URL ??
        (accountType === "individual" ? "https://api.githubcopilot.com" : `https://api.${accountType}.githubcopilot.com`),
    ),
  };
}

const editorHeaders = {
  "editor-version": EDITOR_VERSION,
  "editor-plugin-version": `copilot-chat/${COPILOT_CHAT_VERSION}`,
  "user-agent": `GitHubCopilotChat/${COPILOT_CHAT_VERSION}`,
  "x-github-api-version": API_VERSION,
};

export function githubHeaders(githubToken: string): Record<string, string> {
  return { ...editorHeaders, accept: "application/json", authorization: `token ${githubToken}` };
}

/** The headers Copilot's API expects from an editor. */
export function copilotHeaders(copilotToken: string, options: { vision?: boolean; initiator?: "user" | "agent" } = {}): Record<string, string> {
  const headers: Record<string, string> = {
    ...editorHeaders,
    authorization: `Bearer ${copilotToken}`,
    "content-type": "application/json",
    "copilot-integration-id": "vscode-chat",
    "openai-intent": "conversation-panel",
    "x-request-id": randomUUID(),
  };
  if (options.vision) headers["copilot-vision-request"] = "true";
  if (options.initiator) headers["x-initiator"] = options.initiator;
  return headers;
}
