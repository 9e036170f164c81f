import { join } from "node:path";
import { compose } from "~/compose";
import { openStore, type Store } from "~/db";
import type { RecordedEvent } from "~/features/events";
import { writeEvents } from "~/features/events/queries";
import { createKey } from "~/features/keys";
import type { QuotaSource } from "~/features/quota";

import { listen } from "~/listen";
import type { BodyReads } from "~/protocols/body-read";
import { appOptions, tempDir } from "../helpers";
import { captureLog } from "../log-capture";

/**
 * The whole app (server.ts, every middleware) on a real HTTP server on port 0,
 * over a real SQLite file, in this process so the test owns the wall clock the
 * dashboard's sessions read: `clock.offset` moves it.
 */
export interface DashboardServer {
  url: string;
  dbPath: string;
  store: Store;
  /** The same app, for requests without a socket in between (a body is then read only as the test reads it). */
  /** `env` stands in for Bun's server (its requestIP gives the client's address). */
  request: (path: string, init?: RequestInit, env?: unknown) => Promise<Response>;
  clock: { offset: number };
  admin: { id: string; secret: string };
  client: { id: string; secret: string };
  stop(): Promise<void>;
}

export function startDashboard(options: { quota?: QuotaSource; bodyReads?: BodyReads } = {}): DashboardServer {
  const dbPath = join(tempDir(), "copilot-api.db");
  const store = openStore({ path: dbPath });
  const admin = createKey(store.db, { tier: "admin", label: "ops laptop", allowedModels: ["*"], rateLimit: null });
  const client = createKey(store.db, { tier: "client", label: "ci bot", allowedModels: ["*"], rateLimit: null });
  const clock = { offset: 0 };
  // No GitHub token in this environment: the dashboard needs none (quota comes from options).
  const quiet = captureLog();
  const composed = compose(store, { ...appOptions(), env: {}, quota: options.quota, now: () => Date.now() + clock.offset, bodyReads: options.bodyReads });
  quiet.release();
  const app = composed.app;
  // Served as start.ts serves it (Bun's limits, connections of refused bodies closed).
  const server = listen({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
  return {
    url: `http://127.0.0.1:${server.port}`,
    dbPath,
    store,
    request: async (path, init, env) => app.request(path, init, env),
    clock,
    admin: { id: admin.row.id, secret: admin.secret },
    client: { id: client.row.id, secret: client.secret },
    async stop() {
      server.stop(true);
      await composed.close();
    },
  };
}

export const MODELS = ["gpt-4o", "claude-sonnet-4", "o3-mini"];

/** `n` events spread over the last `hours` hours, through the recorder's own write path (events + usage_hourly). */
export function seedEvents(store: Store, keyIds: string[], n: number, hours = 40, now = Date.now()): void {
  writeEvents(store, seedBatch(keyIds, n, hours, now));
}

/** The events seedEvents writes, for a store of another kind (PostgreSQL) to be fed the same. */
export function seedBatch(keyIds: string[], n: number, hours = 40, now = Date.now()): RecordedEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    ts: now - Math.floor(((i + 1) * hours * 3_600_000) / (n + 1)),
    keyId: keyIds[i % keyIds.length]!,
    route: "/chat/completions",
    model: MODELS[i % MODELS.length]!,
    upstreamModel: MODELS[i % MODELS.length]!,
    stream: false,
    promptTokens: 100,
    completionTokens: 20,
    cacheReadTokens: 10,
    premiumRequests: i % 2,
    usageUnknown: false,
    // Copilot's meter on answers; none on errors (unknown, not 0).
    costNanoAiu: i % 10 === 0 ? null : 24_000_000 + (i % 3) * 1_000_000,
    status: i % 10 === 0 ? 502 : 200,
    latencyMs: 150 + (i % 7) * 100,
    error: i % 10 === 0 ? ("upstream_error" as const) : null,
  }));
}

const cookieOf = (response: Response, name: string) =>
  response.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(";")[0];

/** The session cookie a response sets (Name=value), if any. */
export const sessionCookie = (response: Response) =>
  response.headers
    .getSetCookie()
    .find((c) => c.startsWith("copilot_api_session="))
    ?.split(";")[0];

export const hiddenCsrf = (html: string) => html.match(/name="csrf" value="([^"]+)"/)?.[1];

export interface Signed {
  /** The Cookie header to send. */
  cookie: string;
  /** The session id the cookie carries. */
  sessionId: string;
  /** The raw Set-Cookie of the session. */
  setCookie: string;
  csrf: string;
}

/** The sign-in form as a browser fills it; returns the answer (303 on success). */
export async function postSignIn(url: string, secret: string, headers: Record<string, string> = {}): Promise<Response> {
  const page = await fetch(`${url}/dashboard/login`, { headers });
  const token = hiddenCsrf(await page.text())!;
  const cookie = cookieOf(page, "copilot_api_signin")!;
  return fetch(`${url}/dashboard/login`, {
    method: "POST",
    redirect: "manual",
    headers: { ...headers, cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrf: token, key: secret }),
  });
}

export async function signIn(url: string, secret: string): Promise<Signed> {
  const response = await postSignIn(url, secret);
  if (response.status !== 303) throw new Error(`sign-in answered ${response.status}: ${await response.text()}`);
  const setCookie = response.headers.getSetCookie().find((c) => c.startsWith("copilot_api_session="))!;
  const cookie = setCookie.split(";")[0]!;
  const keysPage = await (await fetch(`${url}/dashboard/keys`, { headers: { cookie } })).text();
  return { cookie, sessionId: cookie.split("=")[1]!, setCookie, csrf: hiddenCsrf(keysPage)! };
}

/** A form POST with the session's cookie; `csrf: undefined` leaves the token out. */
export function postForm(url: string, path: string, cookie: string, fields: Record<string, string | undefined>): Promise<Response> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) body.set(name, value);
  return fetch(`${url}${path}`, { method: "POST", redirect: "manual", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body });
}
