import { cmd } from "~/lib/command-name";
import { AppError, errorMessage } from "~/lib/errors";
import { type ClientIdentity, clientIdentity, copilotBaseUrl, copilotHeaders, type UpstreamUrls } from "./config";
import type { CopilotSession, CopilotToken } from "./copilot-token";
import { type CatalogEntry, parseModelsResponse } from "./model-catalog";
import { CopilotWindows } from "./windows";

/** Who started a request: the person, or the agent continuing its own work (X-Initiator). */
export type Initiator = "user" | "agent";

export interface ForwardOptions {
  method: "GET" | "POST";
  /** Path on the Copilot API, e.g. /chat/completions. */
  path: string;
  /** The client's JSON body, forwarded byte for byte. */
  body?: string;
  /** Aborts the upstream request (the client went away). */
  signal?: AbortSignal;
  vision?: boolean;
  initiator?: Initiator;
  /** Keeps a conversation on one seat of a pool: a stable value (Anthropic metadata.user_id), hashed. */
  affinity?: string;
  /** Headers a protocol adds for this endpoint (Anthropic's `anthropic-version`, `anthropic-beta`); set after the fixed ones. */
  headers?: Record<string, string>;
}

/**
 * Forwards requests to Copilot with a fresh token, at the base URL that token was
 * issued for, retrying once when Copilot says the token is no longer good.
 */
export class CopilotClient {
  readonly identity: ClientIdentity;
  /** This seat's session and weekly windows, as its answers' headers say them. */
  readonly windows = new CopilotWindows();

  constructor(
    private readonly urls: UpstreamUrls,
    private readonly token: CopilotToken,
    identity?: ClientIdentity,
  ) {
    // Read once, at construction: an unusable override fails the boot, not a request.
    this.identity = identity ?? clientIdentity();
  }

  async forward(options: ForwardOptions): Promise<Response> {
    const response = await this.sendWithSession(options);
    const refusal = this.windows.observe(response);
    if (refusal) await refusal;
    return response;
  }

  private async sendWithSession(options: ForwardOptions): Promise<Response> {
    const first = await this.token.session();
    const response = await this.send(options, first);
    if (response.status !== 401) return response;
    await response.body?.cancel();
    this.token.invalidate(first.token);
    return this.send(options, await this.token.session());
  }

  /** Copilot's model catalog (GET /models), for ModelCatalog. */
  async models(): Promise<CatalogEntry[]> {
    const response = await this.forward({ method: "GET", path: "/models" });
    if (!response.ok) {
      await response.body?.cancel();
      throw new AppError(`Copilot answered GET /models with HTTP ${response.status}`, `run \`${cmd("doctor")}\` to see what is sent upstream`);
    }
    return parseModelsResponse(await response.json());
  }

  /** The Copilot API base URL requests go to now (the current token's, unless overridden). */
  async baseUrl(): Promise<string> {
    return copilotBaseUrl(this.urls, (await this.token.session()).apiUrl);
  }

  private async send(options: ForwardOptions, session: CopilotSession): Promise<Response> {
    const base = copilotBaseUrl(this.urls, session.apiUrl);
    try {
      return await fetch(`${base}${options.path}`, {
        method: options.method,
        headers: { ...copilotHeaders(session.token, { vision: options.vision, initiator: options.initiator }, this.identity), ...options.headers },
        body: options.body,
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new AppError(`cannot reach Copilot at ${base}: ${errorMessage(error)}`, "check your network connection");
    }
  }
}
