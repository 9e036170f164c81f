import { AppError } from "~/lib/errors";
import type { ForwardOptions } from "./copilot-client";
import type { ModelCatalog } from "./model-catalog";
import type { CopilotWindows } from "./windows";

/** What sends a request to Copilot: one seat's client, or a pool of seats that fails over. */
export interface Forwarder {
  forward(options: ForwardOptions): Promise<Response>;
  /** One seat's windows (absent on a pool, which passes over an exhausted seat itself). */
  readonly windows?: CopilotWindows;
}

/** The Copilot client and catalog one request uses (chosen per request: its key's seat, the pool, or the default token). */
export interface UpstreamChoice {
  /** Absent when no GitHub token is configured: the routes then answer 503. */
  copilot?: Forwarder;
  catalog?: ModelCatalog;
}

/** A request's seat cannot be used (its credential is gone, or its token cannot be opened): 503, with what to do. */
export class SeatUnavailable extends AppError {}

/** A Forwarder that answers every request with the same refusal. */
export const refusingForwarder = (error: SeatUnavailable): Forwarder => ({ forward: () => Promise.reject(error) });
