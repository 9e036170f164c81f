import type { Protocol } from "~/protocols/pipeline";
import { countTokensRoute, messagesRoute, upstreamError } from "./routes";
import { TokenCounter } from "./token-worker";

/** The Anthropic Messages protocol's public face, for server.ts. */
export { anthropicShape } from "./errors";

export { TokenCounter };

/** The paths this protocol serves (at / and /v1), as events record them; count_tokens never calls upstream. */
export const ANTHROPIC_PATHS = { usage: ["/messages"], other: ["/messages/count_tokens"] } as const;

/**
 * Anthropic Messages (Claude Code, the Anthropic SDKs), mounted at / and /v1; count_tokens never
 * calls Copilot, and counts on `tokens`' thread (the boot's, stopped at shutdown; else its own).
 */
export const anthropicProtocol = (tokens: TokenCounter = new TokenCounter()): Protocol => ({
  paths: ANTHROPIC_PATHS,
  models: [messagesRoute],
  upstreamError,
  extraRoutes: (routes, deps) => countTokensRoute(routes, deps, tokens),
});

/** Paths served in Anthropic's protocol (at / and /v1). */
export const ANTHROPIC_PATH = /^(?:\/v1)?\/messages(?:\/|$)/;

/** A request speaks Anthropic's protocol when it goes to its routes, or says so (`anthropic-version`, which Anthropic SDKs always send). */
export const speaksAnthropic = (path: string, headers: { header(name: string): string | undefined }) =>
  ANTHROPIC_PATH.test(path) || headers.header("anthropic-version") !== undefined;
