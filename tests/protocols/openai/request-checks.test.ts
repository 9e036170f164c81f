import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MAX_JSON_DEPTH, notJson, repeatedKey, topLevelKeys } from "~/protocols/json-body";
import { type FakeUpstream, startFakeUpstream } from "../../fake-upstream";
import { type CreatedKey, cleanUpAfterFile, createKey, dbFileOf, errorOf, isolatedEnv, type RunningServer, startServer, tempDir } from "../../helpers";

cleanUpAfterFile();

// Issue 8, points 3 (415), 4 (repeated keys), 6 (bounded strings) and 8 (shapes at the edge),
// against a real server in a child process, a real SQLite file and the fake Copilot.

let fake: FakeUpstream;
let server: RunningServer;
let home: string;
let key: CreatedKey;
let admin: CreatedKey;

beforeAll(async () => {
  fake = startFakeUpstream();
  home = tempDir();
  const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
  key = await createKey(env, "--models", "gpt-4o,text-embedding-*");
  admin = await createKey(env, "--tier", "admin");
  server = await startServer([], env);
});
afterAll(async () => {
  await server.stop();
  fake.stop();
});

const ROUTES = ["/chat/completions", "/v1/chat/completions", "/embeddings", "/v1/embeddings"];
const CHAT = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
const EMBED = { model: "text-embedding-3-small", input: "hi" };
const bodyFor = (route: string) => JSON.stringify(route.endsWith("embeddings") ? EMBED : CHAT);

function send(path: string, body: RequestInit["body"], headers: Record<string, string> = { "content-type": "application/json" }) {
  return fetch(`${server.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${key.secret}`, ...headers }, body });
}

/** How many requests reached the fake Copilot on its model routes so far. */
const forwarded = () => fake.requests.filter((r) => r.path === "/chat/completions" || r.path === "/embeddings").length;

interface EventRow {
  route: string;
  model: string | null;
  status: number;
  error: string | null;
}

/** Polls the server's database until an event matching `where` exists (writes are batched), and returns the newest one. */
async function eventWhere(where: string): Promise<EventRow | null> {
  const db = new Database(dbFileOf(home), { readonly: true });
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const row = db.query<EventRow, []>(`SELECT route, model, status, error FROM events WHERE ${where} ORDER BY id DESC LIMIT 1`).get();
      if (row || Date.now() > deadline) return row;
      await Bun.sleep(50);
    }
  } finally {
    db.close();
  }
}

describe("a body that is not JSON gets 415 (point 3)", () => {
  test.each(ROUTES)("POST %s with text/plain, a form type or no Content-Type: 415, nothing forwarded", async (route) => {
    const before = forwarded();
    const cases: [string, Record<string, string>, RequestInit["body"]][] = [
      // what a web page can send cross-site without a preflight
      ["text/plain", { "content-type": "text/plain;charset=UTF-8" }, bodyFor(route)],
      ["form", { "content-type": "application/x-www-form-urlencoded" }, bodyFor(route)],
      ["multipart", { "content-type": "multipart/form-data; boundary=x" }, bodyFor(route)],
      // fetch sends no Content-Type for a byte body (a browser: for a Blob without a type)
      ["none", {}, new TextEncoder().encode(bodyFor(route))],
    ];
    for (const [what, headers, body] of cases) {
      const response = await send(route, body, headers);
      expect(response.status, what).toBe(415);
      const error = await errorOf(response);
      expect(error).toMatchObject({ type: "invalid_request_error", code: "unsupported_media_type" });
      expect(error.message).toContain("Content-Type: application/json");
      if (what === "none") expect(error.message).toContain("no Content-Type");
      else expect(error.message).toContain(headers["content-type"]!);
    }
    expect(forwarded()).toBe(before);
  });

  test.each([
    ["application/json; charset=utf-8", 200],
    ['Application/JSON;charset="UTF-8"', 200],
    ["application/vnd.openai+json", 200],
    ["application/json; charset=iso-8859-1", 415],
    ["application/jsonx", 415],
    ["text/json", 415],
  ])("Content-Type %s: %d", async (type, status) => {
    const response = await send("/v1/chat/completions", JSON.stringify(CHAT), { "content-type": type });
    expect(response.status).toBe(status);
  });

  test("the 415 is recorded in events, with an error tag from the vocabulary", async () => {
    const response = await send("/v1/embeddings", JSON.stringify(EMBED), { "content-type": "text/plain" });
    expect(response.status).toBe(415);
    expect(await eventWhere("status = 415 AND route = '/embeddings'")).toMatchObject({ model: null, error: "bad_request" });
  });

  test("a long Content-Type is not echoed whole", async () => {
    const type = `text/plain; x=${"a".repeat(5000)}`;
    const response = await send("/chat/completions", JSON.stringify(CHAT), { "content-type": type });
    expect(response.status).toBe(415);
    expect((await errorOf(response)).message.length).toBeLessThan(400);
  });
});

describe("the model Copilot reads is the model that was checked (point 4)", () => {
  // The key may use gpt-4o only. JSON.parse keeps the last of two keys; a parser that keeps
  // the first (or matches keys ignoring case, as Go's encoding/json does) would read claude.
  test.each([
    ["repeated", '{"model":"claude-sonnet-4","model":"gpt-4o","messages":[]}'],
    ["repeated, one spelled with an escape", '{"model":"claude-sonnet-4","mod\\u0065l":"gpt-4o","messages":[]}'],
    ["differing in case", '{"MODEL":"claude-sonnet-4","model":"gpt-4o","messages":[]}'],
    ["repeated after a nested object", '{"model":"claude-sonnet-4","metadata":{"model":"x","a":[1,{"b":"}"}]},"model":"gpt-4o","messages":[]}'],
  ])("a body with the model key %s is refused with 400 and never forwarded", async (_what, body) => {
    const before = forwarded();
    const response = await send("/v1/chat/completions", body);
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error).toMatchObject({ type: "invalid_request_error", code: "duplicate_key" });
    expect(error.message.toLowerCase()).toContain('"model"');
    expect(forwarded()).toBe(before);
  });

  test("repeated keys elsewhere in the body are Copilot's business; strings that look like keys are just strings", async () => {
    const body =
      '{"model":"gpt-4o","messages":[{"role":"user","content":"say \\"model\\": \\"claude-sonnet-4\\", {\\"model\\":1}","role":"user"}],"metadata":{"k":1,"k":2}}';
    const response = await send("/chat/completions", body);
    expect(response.status).toBe(200);
    const sent = fake.requests.filter((r) => r.path === "/chat/completions").at(-1)!;
    expect(sent.body).toBe(body); // forwarded byte for byte
  });

  test("what Copilot receives names exactly the model that was checked", async () => {
    const response = await send("/v1/chat/completions", JSON.stringify({ ...CHAT, model: "gpt-4o" }));
    expect(response.status).toBe(200);
    const sent = fake.requests.filter((r) => r.path === "/chat/completions").at(-1)!;
    expect(sent.body.match(/"model"/g)).toHaveLength(1);
    expect((JSON.parse(sent.body) as { model: string }).model).toBe("gpt-4o");
  });
});

describe("client strings are bounded before they are stored or echoed (point 6)", () => {
  test("a model name past 256 characters is a 400 naming the field and the limit; it is neither echoed nor stored", async () => {
    const model = `gpt-${"x".repeat(1_000_000)}`;
    for (const [route, body] of [
      ["/v1/chat/completions", { ...CHAT, model }],
      ["/v1/embeddings", { ...EMBED, model }],
    ] as const) {
      const before = forwarded();
      const response = await send(route, JSON.stringify(body));
      const text = await response.clone().text();
      expect(response.status).toBe(400);
      expect(text.length).toBeLessThan(1000);
      const error = await errorOf(response);
      expect(error).toMatchObject({ type: "invalid_request_error", code: "string_above_max_length", param: "model" });
      expect(error.message).toContain("model");
      expect(error.message).toContain("256");
      expect(forwarded()).toBe(before);
    }
    const row = await eventWhere("status = 400 AND route = '/embeddings'");
    expect(row).toMatchObject({ model: null, error: "bad_request" });
    const db = new Database(dbFileOf(home), { readonly: true });
    expect(db.query<{ n: number | null }, []>("SELECT max(length(model)) AS n FROM events").get()!.n).toBeLessThanOrEqual(256);
    db.close();
  });

  test("a model of exactly 256 characters is checked against the key as usual (403, echoed once)", async () => {
    const model = "m".repeat(256);
    const response = await send("/chat/completions", JSON.stringify({ ...CHAT, model }));
    expect(response.status).toBe(403);
    const error = await errorOf(response);
    expect(error).toMatchObject({ code: "model_not_allowed", param: "model" });
    expect(error.message).toContain(model);
  });

  test("the path in a 404 is cut short", async () => {
    const path = `/v1/${"p".repeat(6000)}`;
    const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key.secret}` } });
    expect(response.status).toBe(404);
    const error = await errorOf(response);
    expect(error.message).toStartWith(`no route for GET /v1/ppp`);
    expect(error.message).toContain("(6004 characters)");
    expect(error.message.length).toBeLessThan(400);
  });

  test("query values echoed by /admin/usage are cut short", async () => {
    for (const query of [`since=${"9".repeat(5000)}x`, `by=${"k".repeat(5000)}`]) {
      const response = await fetch(`${server.url}/admin/usage?${query}`, { headers: { authorization: `Bearer ${admin.secret}` } });
      expect(response.status).toBe(400);
      expect((await errorOf(response)).message.length).toBeLessThan(500);
    }
  });

  test("the parser's complaint about invalid JSON is cut short", async () => {
    const response = await send("/chat/completions", `{"model": ${"x".repeat(100_000)}}`);
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message.length).toBeLessThan(400);
  });
});

describe("request shapes are checked at the edge (point 8)", () => {
  test.each([
    ["/v1/chat/completions", { model: "gpt-4o", messages: [null] }, "messages[0]", "messages[0]: expected an object, got null"],
    ["/v1/chat/completions", { model: "gpt-4o", messages: ["hi"] }, "messages[0]", "messages[0]: expected an object, got a string"],
    [
      "/v1/chat/completions",
      { model: "gpt-4o", messages: [{ role: "user", content: "a" }, { content: "b" }] },
      "messages[1].role",
      "messages[1].role: is required",
    ],
    [
      "/v1/chat/completions",
      { model: "gpt-4o", messages: [{ role: 7, content: "a" }] },
      "messages[0].role",
      "messages[0].role: expected a string, got a number",
    ],
    [
      "/v1/chat/completions",
      { model: "gpt-4o", messages: [{ role: "user", content: [null] }] },
      "messages[0].content[0]",
      "messages[0].content[0]: expected an object, got null",
    ],
    [
      "/v1/chat/completions",
      { model: "gpt-4o", messages: [{ role: "user", content: [{ text: "x" }] }] },
      "messages[0].content[0].type",
      "messages[0].content[0].type: is required",
    ],
    [
      "/v1/chat/completions",
      { model: "gpt-4o", messages: [{ role: "user", content: 5 }] },
      "messages[0].content",
      "messages[0].content: expected a string, an array of content parts, or null",
    ],
    ["/v1/chat/completions", { model: "gpt-4o", messages: null }, "messages", "messages: expected an array, got null"],
    ["/v1/chat/completions", { model: "gpt-4o" }, "messages", "messages: is required"],
    ["/v1/chat/completions", { model: "gpt-4o", messages: [], stream: "yes" }, "stream", "stream: expected a boolean, got a string"],
    ["/chat/completions", { model: ["gpt-4o"], messages: [] }, "model", "model: expected a string, got an array"],
    ["/chat/completions", { messages: [] }, "model", "model: is required"],
    ["/chat/completions", { model: "", messages: [] }, "model", "model: must not be empty"],
    ["/v1/embeddings", { model: "text-embedding-3-small" }, "input", "input: is required"],
    ["/v1/embeddings", { model: "text-embedding-3-small", input: { text: "x" } }, "input", "input: expected a string, an array of strings"],
    ["/embeddings", { model: 1, input: "x" }, "model", "model: expected a string, got a number"],
  ])("POST %s %j: 400 naming %s", async (route, body, param, message) => {
    const before = forwarded();
    const response = await send(route, JSON.stringify(body));
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error).toMatchObject({ type: "invalid_request_error", param });
    expect(error.message).toStartWith(message);
    expect(forwarded()).toBe(before);
  });

  test("fields the gateway does not read pass through untouched, and what OpenAI allows is accepted", async () => {
    const body = {
      model: "gpt-4o",
      stream: null,
      temperature: 0.2,
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      something_new: { nested: [1, "two", null] },
      messages: [
        { role: "system", content: "be brief", name: "sys" },
        {
          role: "user",
          content: [
            { type: "text", text: "look" },
            { type: "image_url", image_url: { url: "data:image/png;base64,AA" } },
          ],
        },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "assistant", tool_calls: [] },
        { role: "tool", tool_call_id: "c1", content: "42" },
      ],
    };
    const response = await send("/v1/chat/completions", JSON.stringify(body));
    expect(response.status).toBe(200);
    const sent = fake.requests.filter((r) => r.path === "/chat/completions").at(-1)!;
    expect(sent.body).toBe(JSON.stringify(body));
    expect(sent.headers["copilot-vision-request"]).toBe("true");
    for (const input of ["x", ["a", "b"], [1, 2, 3], [[1, 2], [3]]]) {
      expect((await send("/embeddings", JSON.stringify({ ...EMBED, input }))).status).toBe(200);
    }
  });

  test("a bad shape is recorded as bad_request with the model it named, and the server keeps serving", async () => {
    const response = await send("/v1/chat/completions", JSON.stringify({ model: "gpt-4o", messages: [null], stream: true }));
    expect(response.status).toBe(400);
    expect(await eventWhere("status = 400 AND route = '/chat/completions' AND model = 'gpt-4o'")).toMatchObject({ error: "bad_request" });
    const streamed = await send("/v1/chat/completions", JSON.stringify({ ...CHAT, stream: true }));
    expect(streamed.status).toBe(200);
    expect(await streamed.text()).toEndWith("data: [DONE]\n\n");
  });
});

describe("a body nested past the depth limit gets 400 naming it, on every model route (issue 18, point 10)", () => {
  // Built as text: JSON.stringify itself overflows on such a value.
  const nested = (body: (input: unknown) => unknown, levels: number) =>
    JSON.stringify(body("__DEEP__")).replace('"__DEEP__"', `${"[".repeat(levels)}${"]".repeat(levels)}`);
  const toolTurn = (input: unknown) => [
    { role: "user", content: "hi" },
    { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "f", input: { x: input } }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "ok" }] },
  ];
  const cases: [string, (input: unknown) => unknown][] = [
    ["/v1/messages", (input) => ({ model: "claude-sonnet-4", max_tokens: 16, messages: toolTurn(input) })],
    ["/v1/messages/count_tokens", (input) => ({ model: "claude-sonnet-4", messages: toolTurn(input) })],
    ["/v1/chat/completions", (input) => ({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], metadata: { x: input } })],
    ["/v1/responses", (input) => ({ model: "gpt-4o", input: "hi", metadata: { x: input } })],
  ];

  test.each(cases)("%s: 200,000 levels deep is a 400 that names the limit, in the route's error shape", async (path, body) => {
    const response = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin.secret}`, "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: nested(body, 200_000),
    });
    expect(response.status).toBe(400);
    const answer = (await response.json()) as { error: { message: string } };
    expect(answer.error.message).toContain(`the limit is ${MAX_JSON_DEPTH} levels`);
  });

  test("a body exactly at the limit is accepted", async () => {
    // The top-level object, messages, the assistant turn, its content, the block, input and x: 7 levels above the array.
    const response = await fetch(`${server.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin.secret}`, "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: nested(cases[1]![1], MAX_JSON_DEPTH - 6),
    });
    expect(response.status).toBe(200);
  });
});

describe("the top-level key scanner", () => {
  test("reads keys through escapes, nested values and strings full of brackets and quotes", () => {
    expect(topLevelKeys("{}")).toEqual([]);
    expect(topLevelKeys(' \n{ "a" : 1 , "b":[{"c":2}], "d\\\\":"}\\"{[", "e":{"a":{"a":1}} ,"\\u0066":null}')).toEqual(["a", "b", "d\\", "e", "f"]);
    expect(repeatedKey('{"a":"\\\\","a":1}')).toBe("a");
    expect(repeatedKey('{"k":"\\"k\\":1"}')).toBeUndefined();
    expect(repeatedKey('{"stream":true,"Stream":false}')).toBe("Stream");
  });

  test("agrees with JSON.parse on the keys of many generated bodies", () => {
    const pieces = ["a", "model", '"', "\\", "{", "}", "[", "]", ",", ":", "é", "😀", "\u0000", " "];
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const text = () => Array.from({ length: next(6) }, () => pieces[next(pieces.length)]).join("");
    const value = (depth: number): unknown => {
      const kind = next(depth > 2 ? 4 : 6);
      if (kind === 0) return text();
      if (kind === 1) return next(1000) - 500;
      if (kind === 2) return null;
      if (kind === 3) return next(2) === 0;
      if (kind === 4) return Array.from({ length: next(4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: next(4) }, () => [text(), value(depth + 1)]));
    };
    for (let i = 0; i < 500; i++) {
      const body = Object.fromEntries(Array.from({ length: next(6) }, () => [text(), value(0)]));
      const json = JSON.stringify(body, null, next(2) === 0 ? 1 : undefined);
      expect(topLevelKeys(json)).toEqual(Object.keys(JSON.parse(json) as object));
    }
  });

  test("Content-Type: JSON types in UTF-8 only, and a missing one is refused", () => {
    expect(notJson("application/json")).toBeUndefined();
    expect(notJson("application/problem+json; charset=utf8")).toBeUndefined();
    expect(notJson(undefined)).toContain("no Content-Type");
    expect(notJson(" ")).toContain("no Content-Type");
    expect(notJson("text/plain")).toContain('"text/plain"');
    expect(notJson("application/json; charset=utf-16")).toContain("UTF-8");
  });
});
