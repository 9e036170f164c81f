/**
 * What every translation of Copilot's chat event stream into another
 * protocol's stream is fed: bytes as they arrive, then the end or a failure;
 * each call hands back the text to send (possibly empty).
 */
export interface ChatStreamTranslatorLike {
  /** Set once the protocol's last event was produced; later input is ignored. */
  readonly finished: boolean;
  /** Set when the client went away before the end. */
  cancelled: boolean;
  push(bytes: Uint8Array): string;
  end(): string;
  fail(message: string): string;
}

/**
 * Pumps Copilot's chat stream through a translator, one upstream read per
 * pull (no buffering: a read that yields events sends them at once). `settled`
 * is told once, when the stream is over: finished, failed or cancelled.
 */
export function pumpChatStream(
  upstream: ReadableStream<Uint8Array>,
  translator: ChatStreamTranslatorLike,
  settled: () => void = () => {},
): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const encoder = new TextEncoder();
  let over = false;
  const settle = () => {
    if (over) return;
    over = true;
    settled();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          let text: string;
          let done = false;
          try {
            const result = await reader.read();
            if (result.done) {
              text = translator.end();
              done = true;
            } else {
              text = translator.push(result.value);
              done = translator.finished;
            }
          } catch (error) {
            text = translator.fail(`the connection to Copilot failed mid-stream: ${error instanceof Error ? error.message : String(error)}`);
            done = true;
          }
          if (text !== "") controller.enqueue(encoder.encode(text));
          if (done) {
            controller.close();
            reader.cancel().catch(() => {});
            settle();
            return;
          }
          if (text !== "") return;
        }
      },
      async cancel(reason) {
        translator.cancelled = true;
        settle();
        await reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Cuts a byte stream into lines as they complete: a UTF-8 character split across
 * reads is joined, and the unfinished last line waits for the next read.
 */
export class LineSplitter {
  private readonly decoder = new TextDecoder();
  private pending = "";

  /** Calls `each` with every line this read completes (without its "\n") while it returns true. */
  push(bytes: Uint8Array, each: (line: string) => boolean): void {
    const text = this.pending + this.decoder.decode(bytes, { stream: true });
    // Lines are cut out by index: one pass over the read.
    let start = 0;
    let newline = text.indexOf("\n");
    while (newline !== -1) {
      if (!each(text.slice(start, newline))) {
        this.pending = "";
        return;
      }
      start = newline + 1;
      newline = text.indexOf("\n", start);
    }
    this.pending = text.slice(start);
  }

  /** What is left when the stream ends: a last line without its "\n", or "". */
  end(): string {
    const rest = this.pending + this.decoder.decode();
    this.pending = "";
    return rest;
  }
}
