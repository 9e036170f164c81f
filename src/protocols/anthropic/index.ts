/** The Anthropic Messages protocol's public face, for server.ts. */
export { anthropicShape } from "./errors";
export { ANTHROPIC_ROUTES, anthropicRoutes } from "./routes";
export { TokenCounter } from "./token-worker";

/** Paths served in Anthropic's protocol (at / and /v1). */
export const ANTHROPIC_PATH = /^(?:\/v1)?\/messages(?:\/|$)/;

/** A request speaks Anthropic's protocol when it goes to its routes, or says so (`anthropic-version`, which Anthropic SDKs always send). */
export const speaksAnthropic = (path: string, headers: { header(name: string): string | undefined }) =>
  ANTHROPIC_PATH.test(path) || headers.header("anthropic-version") !== undefined;

/** Copilot's Chat Completions shapes, which the Responses translation reads and writes too. */
export type {
  ChatChunkDelta,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatCompletionResponse,
  ChatContentPart,
  ChatFinishReason,
  ChatMessage,
  ChatToolCall,
  ChatToolChoice,
  ChatUsage,
} from "./chat-types";
