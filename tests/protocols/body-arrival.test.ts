// How a request body may arrive: within a deadline, a few at a time per address, and
// under a size limit whose refusal is the gateway's own, in the protocol's error shape
// (Bun's own refusals have empty bodies). Raw sockets, so the body can be trickled.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { BodyReads } from "~/protocols/body-read";
import { type DashboardServer, startDashboard } from "../dashboard/harness";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { cleanUpAfterFile, createKey, isolatedEnv, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

interface Exchange {
  /** Everything the server sent. */
  received: string;
  /** Body bytes the client sent before the server closed the connection. */
  sent: number;
  /** True when the server closed the connection (false: the client gave up after sending everything). */
  closedByServer: boolean;
}

/**
 * Sends a request's headers, then its body of `length` bytes `chunk` at a time every
 * `everyMs`, until the body is sent or the server closes the connection.
 */
function trickle(port: number, head: string, { length, chunk = 1, everyMs = 50 }: { length: number; chunk?: number; everyMs?: number }): Promise<Exchange> {
  return new Promise((resolve) => {
    const exchange: Exchange = { received: "", sent: 0, closedByServer: false };
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(head);
      const timer = setInterval(() => {
        if (socket.destroyed) return clearInterval(timer);
        if (exchange.sent >= length) {
          clearInterval(timer);
          // Sent all of it: wait a moment for an answer, then give up.
          setTimeout(() => socket.destroy(), 2000);
          return;
        }
        socket.write(Buffer.alloc(Math.min(chunk, length - exchange.sent), 0x20));
        exchange.sent += chunk;
      }, everyMs);
      socket.on("close", () => clearInterval(timer));
    });
    socket.on("data", (data) => {
      exchange.received += data.toString();
    });
    socket.on("end", () => {
      exchange.closedByServer = exchange.sent < length;
    });
    socket.on("error", () => {});
    socket.on("close", () => resolve(exchange));
  });
}

const post = (path: string, length: number, headers: Record<string, string> = {}) =>
  [
    `POST ${path} HTTP/1.1`,
    "Host: 127.0.0.1",
    "Content-Type: application/json",
    `Content-Length: ${length}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "",
    "",
  ].join("\r\n");

const status = (e: Exchange) => Number(e.received.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
const json = (e: Exchange) => JSON.parse(e.received.slice(e.received.indexOf("\r\n\r\n") + 4)) as Record<string, unknown>;

describe("a body that does not arrive", () => {
  let app: DashboardServer;
  let port: number;
  beforeAll(() => {
    app = startDashboard({ bodyReads: new BodyReads({ deadlineMs: 500, perAddress: 2 }) });
    port = Number(new URL(app.url).port);
  });
  afterAll(() => app.stop());

  test("a trickled body with a valid key gets 408 in the OpenAI shape and its connection closed", async () => {
    const e = await trickle(port, post("/v1/chat/completions", 100_000, { authorization: `Bearer ${app.client.secret}` }), { length: 100_000 });
    expect(status(e)).toBe(408);
    expect(e.received.toLowerCase()).toContain("connection: close");
    expect(json(e)).toEqual({
      error: { message: expect.stringContaining("did not arrive within 0.5 s"), type: "invalid_request_error", code: "body_timeout", param: null },
    });
    expect(e.closedByServer).toBe(true);
  });

  test("on /v1/messages the 408 is in the Anthropic shape", async () => {
    const e = await trickle(port, post("/v1/messages", 100_000, { "x-api-key": app.client.secret }), { length: 100_000 });
    expect(status(e)).toBe(408);
    expect(json(e)).toMatchObject({ type: "error", error: { message: expect.stringContaining("did not arrive") } });
    expect(e.closedByServer).toBe(true);
  });

  test("a trickled body without a key gets 401 and its connection closed at once, not held while the body trickles", async () => {
    const e = await trickle(port, post("/v1/chat/completions", 100_000), { length: 100_000 });
    expect(status(e)).toBe(401);
    expect(e.closedByServer).toBe(true);
    // Closed long before the deadline could have cut it: the body was never waited for.
    expect(e.sent).toBeLessThan(100_000);
  });

  test("past the per-address cap of arriving bodies the next gets 429 (closed); once they are cut, requests pass again", async () => {
    const auth = { authorization: `Bearer ${app.client.secret}` };
    const slow = [0, 1].map(() => trickle(port, post("/v1/chat/completions", 100_000, auth), { length: 100_000 }));
    await Bun.sleep(150); // both have sent their headers and are trickling
    const third = await trickle(port, post("/v1/chat/completions", 10, auth), { length: 10, chunk: 10, everyMs: 1 });
    expect(status(third)).toBe(429);
    expect(json(third)).toMatchObject({ error: { code: "too_many_arriving_bodies", type: "rate_limit_error" } });
    for (const e of await Promise.all(slow)) expect(status(e)).toBe(408);
    // The slots are free again: a whole body passes the body checks (400 for its content, not 429).
    const after = await trickle(port, post("/v1/chat/completions", 2, auth), { length: 2, chunk: 2, everyMs: 1 });
    expect(status(after)).toBe(400);
  });
});

describe("a body over the limit", () => {
  let fake: FakeUpstream;
  let server: Awaited<ReturnType<typeof startServer>>;
  let secret: string;
  beforeAll(async () => {
    fake = startFakeUpstream();
    const env = isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken });
    secret = (await createKey(env)).secret;
    server = await startServer([], env);
  });
  afterAll(async () => {
    await server.stop();
    fake.stop();
  });
  // 200 MiB is past Bun's own default cap (128 MiB), which answers before the gateway with an empty 413.
  const HUGE = 200 * 1024 * 1024;

  test("past Bun's own cap, /v1/chat/completions answers the gateway's 413 in the OpenAI shape", async () => {
    const port = Number(new URL(server.url).port);
    const e = await trickle(port, post("/v1/chat/completions", HUGE, { authorization: `Bearer ${secret}` }), { length: 1000, chunk: 100, everyMs: 5 });
    expect(status(e)).toBe(413);
    expect(json(e)).toEqual({
      error: { message: expect.stringContaining("raise --body-limit-mb"), type: "invalid_request_error", code: "body_too_large", param: null },
    });
  });

  test("past Bun's own cap, /v1/messages answers the gateway's 413 in the Anthropic shape", async () => {
    const port = Number(new URL(server.url).port);
    const e = await trickle(port, post("/v1/messages", HUGE, { "x-api-key": secret }), { length: 1000, chunk: 100, everyMs: 5 });
    expect(status(e)).toBe(413);
    expect(json(e)).toMatchObject({ type: "error", error: { message: expect.stringContaining("raise --body-limit-mb") } });
  });
});
