/**
 * Bun.serve with the gateway's rules for connections, so every refusal a client can
 * get is the gateway's own, in its protocol's error shape, and no refused request
 * keeps its connection.
 */

type Fetch = (request: Request, server: Bun.Server<undefined>) => Response | Promise<Response>;

export interface ListenOptions {
  port: number;
  hostname: string;
  fetch: Fetch;
}

/**
 * Bun's own body cap (128 MiB by default) answers 413 with an empty body, before the
 * gateway sees the request, and would silently cap --body-limit-mb. It is lifted: every
 * route that reads a body has a limit of its own (--body-limit-mb on the protocols, 64 KB
 * on the dashboard's forms) that answers in the client's shape.
 */
const BUN_BODY_CAP = Number.MAX_SAFE_INTEGER;

export function listen(options: ListenOptions) {
  return Bun.serve({
    port: options.port,
    hostname: options.hostname,
    idleTimeout: 255,
    maxRequestBodySize: BUN_BODY_CAP,
    fetch: closeUnreadBodies(options.fetch),
  });
}

/**
 * A request answered without reading its body (401 without a key, 413 from
 * Content-Length, 404) gets `Connection: close`: otherwise Bun keeps the connection
 * to drain the rest, and a client trickling that body holds it for as long as it likes.
 */
export function closeUnreadBodies(fetch: Fetch): Fetch {
  return async (request, server) => {
    const response = await fetch(request, server);
    if (request.bodyUsed || !request.body) return response;
    try {
      response.headers.set("connection", "close");
      return response;
    } catch {
      // immutable headers (a response passed through from fetch): the same answer, with headers of its own
      const closing = new Response(response.body, response);
      closing.headers.set("connection", "close");
      return closing;
    }
  };
}

/**
 * The fetch of a port opened before its app is ready (start.ts opens it once the store is open and migrated,
 * then loads and composes the app): a request that arrives meanwhile waits, and is served by the app once
 * `open` hands it over; from then on each request goes straight to the app.
 */
export class ServingGate {
  private handler?: Fetch;
  private readonly waiting: ((handler: Fetch) => void)[] = [];

  readonly fetch: Fetch = (request, server) => {
    if (this.handler) return this.handler(request, server);
    return new Promise<Response>((resolve, reject) => {
      this.waiting.push((handler) => {
        try {
          resolve(handler(request, server));
        } catch (error) {
          reject(error);
        }
      });
    });
  };

  /**
   * From now on `handler` serves every request. Those waiting go to it one per event-loop turn, as they would
   * have arrived: handed over all at once, their bodies would be read all at once, and the app's bound on bodies
   * arriving at once from one address (protocols/body-read.ts) would refuse what was only waiting.
   */
  open(handler: Fetch): void {
    this.handler = handler;
    const next = () => {
      this.waiting.shift()?.(handler);
      if (this.waiting.length > 0) setImmediate(next);
    };
    next();
  }
}
