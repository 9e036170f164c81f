import { AppError } from "~/lib/errors";
import { copilotHeaders, type UpstreamUrls } from "./config";
import type { CopilotToken } from "./copilot-token";

export interface ForwardOptions {
  method: "GET" | "POST";
  /** Path on the Copilot API, e.g. /chat/completions. */
  path: string;
  /** The client's JSON body, forwarded byte for byte. */
  body?: string;
  /** Aborts the upstream request (the client went away). */
  signal?: AbortSignal;
  vision?: boolean;
  initiator?: "user" | "agent";
}

/** Forwards requests to Copilot with a fresh token, retrying once when Copilot says the token is no longer good. */
export class CopilotClient {
  constructor(
    private readonly urls: UpstreamUrls,
    private readonly token: CopilotToken,
  ) {}

  async forward(options: ForwardOptions): Promise<Response> {
    const first = await this.token.get();
    const response = await this.send(options, first);
    if (response.status !== 401) return response;
    await response.body?.cancel();
    this.token.invalidate(first);
    return this.send(options, await this.token.get());
  }

  private async send(options: ForwardOptions, token: string): Promise<Response> {
    try {
      return await fetch(`${this.urls.copilot}${options.path}`, {
        method: options.method,
        headers: copilotHeaders(token, { vision: options.vision, initiator: options.initiator }),
        body: options.body,
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new AppError(`cannot reach Copilot at ${this.urls.copilot}: ${(error as Error).message}`, "check your network connection");
    }
  }
}
