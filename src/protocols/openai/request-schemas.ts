import { z } from "zod";
import { MODEL_NAME_MAX } from "../request-checks";

/**
 * The shape of the requests the OpenAI routes accept, checked at the edge.
 * Only the fields the gateway itself reads are described; every other field
 * is allowed and passes through untouched, so Copilot stays the judge of the
 * rest of the protocol. These schemas only check: their parsed output is
 * never used (the client's own bytes are forwarded), which is why they are
 * plain z.object (unknown keys dropped from the output, not refused), about
 * twice as cheap as z.looseObject on a body of thousands of messages.
 * Every protocol has a module like this one; the checks that run them are
 * shared (../request-checks.ts).
 */

const model = z.string().min(1).max(MODEL_NAME_MAX);

/** `stream: null` is what some clients send for "not set". */
const stream = z.boolean().nullish();

const contentPart = z.object({ type: z.string() });

const message = z.object({
  role: z.string(),
  // null or absent: an assistant message that only carries tool calls.
  content: z.union([z.string(), z.array(contentPart), z.null()], { error: "expected a string, an array of content parts, or null" }).optional(),
});

export const chatCompletionRequest = z.object({
  model,
  messages: z.array(message),
  stream,
});

export const embeddingsRequest = z.object({
  model,
  input: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))], {
    error: "expected a string, an array of strings, an array of numbers (tokens) or an array of arrays of numbers",
  }),
});
