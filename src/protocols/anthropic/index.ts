import type { Protocol } from "~/protocols/pipeline";
import { countTokensRoute, messagesRoute, upstreamError } from "./routes";

/** The Anthropic Messages protocol's public face, for server.ts. */
export { anthropicShape } from "./errors";

/** Anthropic Messages (Claude Code, the Anthropic SDKs), mounted at / and /v1; count_tokens never calls Copilot. */
export const anthropicProtocol: Protocol = {
  paths: { usage: ["/messages"], other: ["/messages/count_tokens"] },
  models: [messagesRoute],
  upstreamError,
  extraRoutes: countTokensRoute,
};

/** Paths served in Anthropic's protocol (at / and /v1). */
export const ANTHROPIC_PATH = /^(?:\/v1)?\/messages(?:\/|$)/;

/** A request speaks Anthropic's protocol when it goes to its routes, or says so (`anthropic-version`, which Anthropic SDKs always send). */
export const speaksAnthropic = (path: string, headers: { header(name: string): string | undefined }) =>
  ANTHROPIC_PATH.test(path) || headers.header("anthropic-version") !== undefined;
