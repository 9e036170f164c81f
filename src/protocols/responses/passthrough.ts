/**
 * Copilot's own `/responses` stream, relayed byte for byte, watched on the way for its
 * terminal event: the whole Response (`response.completed`, `.incomplete`, `.failed`) is what
 * gets stored and where usage is read. Only those events are parsed; every chunk goes on
 * unchanged and unbuffered.
 */
import { isTerminalEventName, type TerminalEvent, terminalEvent } from "./usage";

/** How much of a data line is enough to tell a terminal event by its `"type"` when no `event:` line named it. */
const TYPE_WINDOW = 120;
const TERMINAL_TYPE = /"type"\s*:\s*"response\.(completed|incomplete|failed)"/;

export class TerminalEventTap {
  /** The terminal event, once it went by. */
  event: TerminalEvent | undefined;
  private readonly decoder = new TextDecoder();
  private pending = "";
  private eventName = "";

  /** The Response of the terminal event, once it went by. */
  get response(): Record<string, unknown> | undefined {
    return this.event?.response;
  }

  constructor(private readonly onResponse: (response: Record<string, unknown>) => void = () => {}) {}

  /** The same bytes, watched. */
  watch(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            const { done, value } = await reader.read();
            if (done) {
              this.push(undefined);
              controller.close();
              return;
            }
            this.push(value);
            controller.enqueue(value);
          } catch (error) {
            controller.error(error);
          }
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
  }

  /** Feeds bytes (undefined: the end). */
  push(bytes: Uint8Array | undefined): void {
    this.pending += bytes ? this.decoder.decode(bytes, { stream: true }) : `${this.decoder.decode()}\n`;
    let newline = this.pending.indexOf("\n");
    while (newline !== -1) {
      const line = this.pending.slice(0, newline);
      this.pending = this.pending.slice(newline + 1);
      this.line(line.endsWith("\r") ? line.slice(0, -1) : line);
      newline = this.pending.indexOf("\n");
    }
  }

  private line(line: string): void {
    if (line === "") {
      this.eventName = "";
      return;
    }
    if (line.startsWith("event:")) {
      this.eventName = line.slice(6).trim();
      return;
    }
    if (!line.startsWith("data:") || this.event) return;
    const named = this.eventName !== "";
    if (named ? !isTerminalEventName(this.eventName) : !TERMINAL_TYPE.test(line.slice(0, TYPE_WINDOW))) return;
    const event = terminalEvent(line.slice(5).trim());
    if (!event) return;
    this.event = event;
    this.onResponse(event.response);
  }
}
