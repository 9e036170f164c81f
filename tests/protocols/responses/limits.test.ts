import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openStore } from "~/db";
import { StoredResponses } from "~/features/responses";
import { type FakeUpstream, startFakeUpstream } from "../../fake-upstream";
import { type CreatedKey, cleanUpAfterFile, createKey, dbFileOf, isolatedEnv, type RunningServer, startServer, tempDir } from "../../helpers";

cleanUpAfterFile();

/**
 * Issue 18: previous_response_id chains are held to --body-limit-mb once expanded, a response too
 * large to store leaves a note that makes a later previous_response_id a clear 400, and a response
 * past --responses-retention-days is gone at once, not at the next hourly purge. Real servers
 * (child processes), the fake Copilot, real SQLite files.
 */

let fake: FakeUpstream;
beforeAll(() => {
  fake = startFakeUpstream();
});
afterAll(() => fake.stop());

interface Started {
  server: RunningServer;
  key: CreatedKey;
  home: string;
}

async function started(args: string[], before?: (home: string) => void): Promise<Started> {
  const home = tempDir();
  const env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
  const key = await createKey(env);
  before?.(home);
  return { server: await startServer(args, env), key, home };
}

const post = ({ server, key }: Started, body: Record<string, unknown>) =>
  fetch(`${server.url}/v1/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4.1", ...body }),
  });
const get = ({ server, key }: Started, path: string) => fetch(`${server.url}/v1${path}`, { headers: { authorization: `Bearer ${key.secret}` } });

interface ErrorBody {
  error: { message: string; code: string; param: string | null };
}

describe("--body-limit-mb 1", () => {
  let gateway: Started;
  beforeAll(async () => {
    gateway = await started(["--body-limit-mb", "1", "--responses-retention-days", "2"], (home) => {
      // An old response for the first purge to delete: once it has, the test knows the purge ran.
      const store = openStore({ path: dbFileOf(home) });
      const stored = new StoredResponses(store);
      stored.save({
        id: "resp_marker",
        keyId: "key_x",
        model: "gpt-4.1",
        status: "completed",
        previousResponseId: null,
        input: [],
        response: {},
        createdAt: 0,
      });
      stored.stop();
      store.close();
    });
  });
  afterAll(() => gateway.server.stop());

  test("a chain whose expansion passes the body limit is a 400 in OpenAI's shape that says how to go on; a short chain goes on", async () => {
    const first = await post(gateway, { input: "a".repeat(600_000) });
    expect(first.status).toBe(200);
    const { id } = (await first.json()) as { id: string };
    // Under the limit itself, but with the 600 KB turn it continues it would be 1.2 MB upstream.
    const second = await post(gateway, { input: "b".repeat(600_000), previous_response_id: id });
    expect(second.status).toBe(400);
    const { error } = (await second.json()) as ErrorBody;
    expect(error.code).toBe("previous_response_chain_too_large");
    expect(error.param).toBe("previous_response_id");
    expect(error.message).toContain(`the ${1024 * 1024}-byte limit on a request (--body-limit-mb)`);
    expect(error.message).toContain("start a new conversation without previous_response_id, or send the turns you want kept yourself in input");

    const short = (await (await post(gateway, { input: "hi" })).json()) as { id: string };
    expect((await post(gateway, { input: "and then?", previous_response_id: short.id })).status).toBe(200);
  });

  test("a response past --responses-retention-days answers 404 at once, before the hourly purge deletes it", async () => {
    const deadline = Date.now() + 10_000;
    while (!gateway.server.log().includes("deleted 1 stored responses") && Date.now() < deadline) await Bun.sleep(50);
    expect(gateway.server.log()).toContain("retention: deleted 1 stored responses");
    // Written after the purge ran: it stays in the table for the next hour.
    const store = openStore({ path: dbFileOf(gateway.home) });
    const stored = new StoredResponses(store);
    const base = { keyId: gateway.key.id, model: "gpt-4.1", status: "completed" as const, previousResponseId: null, input: [{ role: "user", content: "old" }] };
    stored.save({ ...base, id: "resp_stale", createdAt: Date.now() - 3 * 86_400_000, response: { id: "resp_stale", object: "response", output: [] } });
    stored.stop();
    store.close();

    for (const path of ["/responses/resp_stale", "/responses/resp_stale/input_items"]) {
      const response = await get(gateway, path);
      expect(response.status).toBe(404);
      expect(((await response.json()) as ErrorBody).error.message).toContain("is older than --responses-retention-days");
    }
    const continued = await post(gateway, { input: "go on", previous_response_id: "resp_stale" });
    expect(continued.status).toBe(404);
    expect(((await continued.json()) as ErrorBody).error.code).toBe("previous_response_not_found");
  });
});

describe("a response larger than the per-response limit (8 MiB with --body-limit-mb 16)", () => {
  test("is answered but not stored: the log says so, GET is a 404 saying why, previous_response_id a 400 saying how to go on", async () => {
    const gateway = await started(["--body-limit-mb", "16"]);
    try {
      const answered = await post(gateway, { input: "c".repeat(9 * 1024 * 1024) });
      expect(answered.status).toBe(200);
      const { id } = (await answered.json()) as { id: string };
      const deadline = Date.now() + 10_000;
      while (!gateway.server.log().includes(`response ${id} was not stored`) && Date.now() < deadline) await Bun.sleep(50);
      expect(gateway.server.log()).toContain(`response ${id} was not stored: its body is`);

      const read = await get(gateway, `/responses/${id}`);
      expect(read.status).toBe(404);
      expect(((await read.json()) as ErrorBody).error.code).toBe("response_not_stored");

      const continued = await post(gateway, { input: "go on", previous_response_id: id });
      expect(continued.status).toBe(400);
      const { error } = (await continued.json()) as ErrorBody;
      expect(error.code).toBe("previous_response_not_stored");
      expect(error.message).toContain(`above the ${8 * 1024 * 1024}-byte limit per stored response`);
      expect(error.message).toContain("start a new conversation without previous_response_id");
    } finally {
      await gateway.server.stop();
    }
  });
});
