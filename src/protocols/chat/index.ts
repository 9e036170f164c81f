/**
 * Copilot's chat, the hub every protocol translates to and from: its request,
 * answer and chunk shapes, the pump that feeds its event stream through a
 * protocol's translator, and the reader of its usage. Shared by every protocol folder.
 */

export { readChatAnswer } from "./answer";
export { type ChatStreamTranslatorLike, LineSplitter, pumpChatStream } from "./stream";
export type {
  ChatChunkDelta,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatCompletionResponse,
  ChatContentPart,
  ChatFinishReason,
  ChatMessage,
  ChatTool,
  ChatToolCall,
  ChatToolChoice,
  ChatUsage,
} from "./types";
export { chatUsage } from "./usage";
