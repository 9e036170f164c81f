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
    if (!request.body || request.bodyUsed) return response;
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
