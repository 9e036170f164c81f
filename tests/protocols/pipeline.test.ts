// One pipeline for every protocol (issue 19, point 1): the drifts the three hand-written copies
// had, each shown on the app itself (composed as start.ts does, in this process, a real SQLite file, the fake
// Copilot on loopback), so the catalog it uses can be asked how often it was consulted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { desc } from "drizzle-orm";
import { openStore, type Store } from "~/db";
import { events } from "~/db/schema";
import { createKey } from "~/features/keys";
import { type FakeUpstream, startFakeUpstream } from "../fake-upstream";
import { COPILOT_MODELS } from "../fixtures/copilot-models";
import { cleanUpAfterFile, composedApp, tempDir } from "../helpers";

cleanUpAfterFile();

let fake: FakeUpstream;
let store: Store;
let composed: Awaited<ReturnType<typeof composedApp>>;
let app: typeof composed.app;

beforeAll(async () => {
  fake = startFakeUpstream();
  // gpt-5-mini made premium at multiplier 0: where two ways of reading billing disagree.
  fake.models = COPILOT_MODELS.map((m) => (m.id === "gpt-5-mini" ? { ...m, billing: { is_premium: true, multiplier: 0 } } : m));
  store = openStore({ path: join(tempDir(), "copilot-api.db") });
  composed = await composedApp(store, { ...fake.env(), GH_TOKEN: fake.githubToken }, "--body-limit-mb", "1");
  app = composed.app;
});

afterAll(() => fake.stop());

/** A key limited to the given models, as `copilot-api keys create --models` makes one. */
const keyFor = (...allowedModels: string[]) => createKey(store.db, { tier: "client", label: "pipeline test", allowedModels, rateLimit: null }).secret;

const post = (secret: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  app.request(path, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json", ...headers },
  });

const chatBody = (model: string, text = "hello") => ({ model, messages: [{ role: "user", content: text }] });
const messagesBody = (model: string, text = "hello") => ({ model, max_tokens: 100, messages: [{ role: "user", content: text }] });
const responsesBody = (model: string, text = "hello") => ({ model, input: text, store: false });

const lastEvent = () => store.db.select().from(events).orderBy(desc(events.id)).limit(1).get()!;

describe("a key's allow-list means the same on every route", () => {
  // Allowed by the catalog's id; asked for by another spelling of it (case, or Anthropic's dated name).
  test("a key allowed claude-sonnet-4 may name it Claude-Sonnet-4 on /chat/completions, /messages and /responses", async () => {
    const secret = keyFor("claude-sonnet-4");
    for (const [path, body] of [
      ["/v1/chat/completions", chatBody("Claude-Sonnet-4")],
      ["/v1/messages", messagesBody("Claude-Sonnet-4")],
      ["/v1/responses", responsesBody("Claude-Sonnet-4")],
    ] as const) {
      const answer = await post(secret, path, body);
      expect({ path, status: answer.status }).toEqual({ path, status: 200 });
    }
  });

  test("a key allowed claude-sonnet-4.5 may send Anthropic's claude-sonnet-4-5-20250929 on /responses too", async () => {
    const secret = keyFor("claude-sonnet-4.5");
    expect((await post(secret, "/v1/messages", messagesBody("claude-sonnet-4-5-20250929"))).status).toBe(200);
    expect((await post(secret, "/v1/responses", responsesBody("claude-sonnet-4-5-20250929"))).status).toBe(200);
  });

  test("a model the key may not use is 403 on every route, in the route's shape", async () => {
    const secret = keyFor("gpt-4.1");
    const chat = await post(secret, "/v1/chat/completions", chatBody("claude-sonnet-4"));
    expect(chat.status).toBe(403);
    expect(((await chat.json()) as { error: { code: string } }).error.code).toBe("model_not_allowed");
    const messages = await post(secret, "/v1/messages", messagesBody("claude-sonnet-4"));
    expect(messages.status).toBe(403);
    expect(((await messages.json()) as { error: { type: string } }).error.type).toBe("permission_error");
    expect((await post(secret, "/v1/responses", responsesBody("claude-sonnet-4"))).status).toBe(403);
  });
});

describe("one failure, one answer", () => {
  test("Copilot's chat answer that is not JSON is the same 502 on /messages and on /responses", async () => {
    const secret = keyFor("*");
    const messages = await post(secret, "/v1/messages", messagesBody("claude-sonnet-4", "__cut_answer__"));
    const responses = await post(secret, "/v1/responses", responsesBody("gpt-4.1", "__cut_answer__"));
    expect([messages.status, responses.status]).toEqual([502, 502]);
    const anthropic = (await messages.json()) as { type: string; error: { type: string; message: string } };
    const openai = (await responses.json()) as { error: { code: string; message: string; type: string } };
    expect(anthropic.type).toBe("error");
    expect(openai.error.code).toBe("upstream_invalid_answer");
    expect(anthropic.error.message).toBe(openai.error.message);
    expect(openai.error.message).toContain("retry");
  });
});

describe("the catalog is asked once per request", () => {
  test("/messages with a key limited to the catalog id and Anthropic's name for it: one lookup", async () => {
    const secret = keyFor("claude-sonnet-4.5");
    const before = composed.catalog.lookups;
    expect((await post(secret, "/v1/messages", messagesBody("claude-sonnet-4-5-20250929"))).status).toBe(200);
    expect(composed.catalog.lookups - before).toBe(1);
  });

  test("/chat/completions and /responses: one lookup each", async () => {
    const secret = keyFor("gpt-4.1");
    for (const [path, body] of [
      ["/v1/chat/completions", chatBody("gpt-4.1")],
      ["/v1/responses", responsesBody("gpt-4.1")],
    ] as const) {
      const before = composed.catalog.lookups;
      expect((await post(secret, path, body)).status).toBe(200);
      expect({ path, lookups: composed.catalog.lookups - before }).toEqual({ path, lookups: 1 });
    }
  });
});

describe("the premium multiplier is read one way", () => {
  /** The multiplier each route's event records for one model. */
  const recordedFor = async (model: string) => {
    const secret = keyFor("*");
    const recorded: Record<string, number | null> = {};
    for (const [path, body] of [
      ["/v1/chat/completions", chatBody(model)],
      ["/v1/messages", messagesBody(model)],
      ["/v1/responses", responsesBody(model)],
    ] as const) {
      expect((await post(secret, path, body)).status).toBe(200);
      recorded[path] = lastEvent().premiumMultiplier;
    }
    return recorded;
  };

  test("a premium model at multiplier 0 costs nothing whichever route asked: no multiplier on any", async () => {
    expect(await recordedFor("gpt-5-mini")).toEqual({ "/v1/chat/completions": null, "/v1/messages": null, "/v1/responses": null });
  });

  test("a premium model's multiplier is recorded alike on every route", async () => {
    // claude-opus-4.1 is billed at 10 premium requests in the fixture catalog.
    expect(await recordedFor("claude-opus-4.1")).toEqual({ "/v1/chat/completions": 10, "/v1/messages": 10, "/v1/responses": 10 });
  });
});
