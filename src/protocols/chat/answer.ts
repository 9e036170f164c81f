import { ApiFailure } from "~/lib/api-error";
import { cmd } from "~/lib/command-name";
import type { ChatCompletionResponse } from "./types";

/**
 * Copilot's non-streamed chat answer, parsed for a translation. One refusal, the same on every
 * protocol, when it is not JSON: 502 upstream_invalid_answer.
 */
export async function readChatAnswer(upstream: Response): Promise<ChatCompletionResponse> {
  try {
    return (await upstream.json()) as ChatCompletionResponse;
  } catch {
    throw new ApiFailure(502, {
      message: `Copilot answered something that is not a chat completion (not JSON); retry, and run \`${cmd("doctor")}\` if it persists`,
      type: "upstream_error",
      code: "upstream_invalid_answer",
    });
  }
}
