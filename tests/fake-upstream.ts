/**
 * A fake GitHub + Copilot on loopback: a real HTTP server on port 0 that plays
 * the device flow, the token exchange and the Copilot API, and records every
 * request it receives so tests can check what copilot-api really sent.
 */
export interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface FakeUpstream {
  url: string;
  requests: Recorded[];
  /** Device flow: how many polls answer authorization_pending before the token is given. */
  pendingPolls: number;
  /** Token exchange: the GitHub token it accepts, and the lifetime of the tokens it issues. */
  githubToken: string;
  tokenTtlSeconds: number;
  refreshInSeconds: number;
  exchanges: number;
  /** Copilot tokens that Copilot still accepts; clear it to make Copilot answer 401. */
  validTokens: Set<string>;
  /** Resolves when a streamed response was cancelled by the reader (the proxy). */
  streamCancelled: Promise<void>;
  env(): Record<string, string>;
  stop(): void;
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

export const USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };

function completion(model: string) {
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: "hello from fake copilot" }, finish_reason: "stop" }],
    usage: USAGE,
  };
}

function sse(chunks: unknown[]): string {
  return `${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("")}data: [DONE]\n\n`;
}

export function streamChunks(model: string): unknown[] {
  const base = { id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1_700_000_000, model };
  return [
    { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "hel" }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { content: "lo" }, finish_reason: "stop" }] },
    { ...base, choices: [], usage: USAGE },
  ];
}

export function startFakeUpstream(): FakeUpstream {
  let cancelled!: () => void;
  const fake: FakeUpstream = {
    url: "",
    requests: [],
    pendingPolls: 1,
    githubToken: "gho_fake_github_token",
    tokenTtlSeconds: 1800,
    refreshInSeconds: 1500,
    exchanges: 0,
    validTokens: new Set(),
    streamCancelled: new Promise<void>((resolve) => (cancelled = resolve)),
    env: () => ({ COPILOT_API_GITHUB_URL: fake.url, COPILOT_API_GITHUB_API_URL: fake.url, COPILOT_API_COPILOT_URL: fake.url }),
    stop: () => server.stop(true),
  };

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 60,
    async fetch(req) {
      const url = new URL(req.url);
      const body = await req.text();
      fake.requests.push({ method: req.method, path: url.pathname, headers: Object.fromEntries(req.headers), body });
      const route = `${req.method} ${url.pathname}`;

      if (route === "POST /login/device/code") {
        return json({ device_code: "dev-123", user_code: "WDJB-MJHT", verification_uri: `${fake.url}/login/device`, expires_in: 60, interval: 0 });
      }
      if (route === "POST /login/oauth/access_token") {
        if (fake.pendingPolls > 0) {
          fake.pendingPolls -= 1;
          return json({ error: "authorization_pending" });
        }
        return json({ access_token: fake.githubToken, token_type: "bearer", scope: "read:user" });
      }
      if (route === "GET /copilot_internal/v2/token") {
        if (req.headers.get("authorization") !== `token ${fake.githubToken}`) return json({ message: "Bad credentials" }, 401);
        fake.exchanges += 1;
        const token = `tid=fake-copilot-${fake.exchanges}`;
        fake.validTokens.add(token);
        return json({ token, expires_at: Math.floor(Date.now() / 1000) + fake.tokenTtlSeconds, refresh_in: fake.refreshInSeconds });
      }

      // Everything below is the Copilot API: it wants a token it issued.
      const bearer = req.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
      if (!fake.validTokens.has(bearer)) return json({ error: { message: "unauthorized: token expired" } }, 401);

      if (route === "GET /models") {
        return json({ object: "list", data: [{ id: "gpt-4o", object: "model" }, { id: "claude-sonnet-4", object: "model" }] });
      }
      if (route === "POST /embeddings") {
        return json({ object: "list", data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2, 0.3] }], model: "text-embedding-3-small", usage: { prompt_tokens: 3, total_tokens: 3 } });
      }
      if (route === "POST /chat/completions") {
        const payload = JSON.parse(body) as { model: string; stream?: boolean };
        if (payload.model === "error-429") return json({ error: { message: "rate limited upstream", type: "rate_limit" } }, 429);
        if (payload.model === "error-500") return new Response("upstream exploded", { status: 500, headers: { "content-type": "text/plain" } });
        if (payload.model === "slow") await Bun.sleep(300);
        if (payload.model === "endless" && payload.stream) {
          const chunk = streamChunks(payload.model)[0];
          let timer: ReturnType<typeof setInterval>;
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              timer = setInterval(() => controller.enqueue(new TextEncoder().encode(`data: ${JSON.stringify(chunk)}\n\n`)), 20);
            },
            cancel() {
              clearInterval(timer);
              cancelled();
            },
          });
          return new Response(stream, { headers: { "content-type": "text/event-stream" } });
        }
        if (payload.stream) return new Response(sse(streamChunks(payload.model)), { headers: { "content-type": "text/event-stream" } });
        return json(completion(payload.model));
      }
      return json({ error: { message: `fake upstream has no ${route}` } }, 404);
    },
  });
  fake.url = `http://127.0.0.1:${server.port}`;
  return fake;
}
