import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeUpstream, startFakeUpstream, streamChunks, strictChunk } from "../fake-upstream";
import {
  type CreatedKey,
  chat,
  cleanUpAfterFile,
  cli,
  createKey,
  isolatedEnv,
  needsProcess,
  type RunningServer,
  startProcess,
  startServer,
  tempDir,
} from "../helpers";

cleanUpAfterFile();

/** Runs `body` against a fresh fake upstream and a server started with `args` and `extra` env; both stopped afterwards. */
async function withServer(
  setup: (fake: FakeUpstream) => void,
  extra: (fake: FakeUpstream) => Record<string, string>,
  body: (server: RunningServer, fake: FakeUpstream) => Promise<void>,
  args: string[] = [],
) {
  const fake = startFakeUpstream();
  setup(fake);
  const env = isolatedEnv(tempDir(), extra(fake));
  // The identity and keep-alive overrides are read from the environment of the process.
  const server = needsProcess(env) ? await startProcess(args, env) : await startServer(args, env);
  try {
    await body(server, fake);
  } finally {
    await server.stop();
    fake.stop();
  }
}

const withFake = (fake: FakeUpstream) => ({ ...fake.env(), GH_TOKEN: fake.githubToken });

describe("what copilot-api says it is to Copilot", () => {
  test("current editor and API versions by default, on Copilot and on the token exchange", async () => {
    await withServer(
      () => {},
      withFake,
      async (server, fake) => {
        expect((await chat(server.url, { model: "gpt-4o" })).status).toBe(200);
        const sent = fake.requests.filter((r) => r.path === "/chat/completions").at(-1)!.headers;
        expect(sent["editor-version"]).toBe("vscode/1.130.0");
        expect(sent["editor-plugin-version"]).toBe("copilot-chat/0.58.0");
        expect(sent["user-agent"]).toBe("GitHubCopilotChat/0.58.0");
        expect(sent["x-github-api-version"]).toBe("2026-06-01");
        expect(sent["copilot-integration-id"]).toBe("vscode-chat");
        const exchange = fake.requests.find((r) => r.path === "/copilot_internal/v2/token")!.headers;
        expect(exchange["editor-version"]).toBe("vscode/1.130.0");
        expect(exchange["x-github-api-version"]).toBe("2025-04-01");
      },
    );
  });

  test("each version can be overridden by an environment variable", async () => {
    const overrides = {
      COPILOT_API_EDITOR_VERSION: "vscode/1.140.2",
      COPILOT_API_PLUGIN_VERSION: "copilot-chat/0.70.1",
      COPILOT_API_API_VERSION: "2027-01-01",
      COPILOT_API_GITHUB_API_VERSION: "2026-03-10",
      COPILOT_API_INTEGRATION_ID: "vscode-chat-next",
    };
    await withServer(
      () => {},
      (fake) => ({ ...withFake(fake), ...overrides }),
      async (server, fake) => {
        expect((await chat(server.url, { model: "gpt-4o" })).status).toBe(200);
        const sent = fake.requests.filter((r) => r.path === "/chat/completions").at(-1)!.headers;
        expect(sent["editor-version"]).toBe("vscode/1.140.2");
        expect(sent["editor-plugin-version"]).toBe("copilot-chat/0.70.1");
        expect(sent["user-agent"]).toBe("GitHubCopilotChat/0.70.1"); // follows the plugin version
        expect(sent["x-github-api-version"]).toBe("2027-01-01");
        expect(sent["copilot-integration-id"]).toBe("vscode-chat-next");
        expect(fake.requests.find((r) => r.path === "/copilot_internal/v2/token")!.headers["x-github-api-version"]).toBe("2026-03-10");
      },
    );
    await withServer(
      () => {},
      (fake) => ({ ...withFake(fake), COPILOT_API_USER_AGENT: "MyAgent/1.0" }),
      async (server, fake) => {
        expect((await chat(server.url, { model: "gpt-4o" })).status).toBe(200);
        expect(fake.requests.filter((r) => r.path === "/chat/completions").at(-1)!.headers["user-agent"]).toBe("MyAgent/1.0");
      },
    );
  });

  test("an override that is not a header value stops the boot, naming the variable", async () => {
    const fake = startFakeUpstream();
    try {
      const result = await cli(["start", "--port", "0"], isolatedEnv(tempDir(), { ...withFake(fake), COPILOT_API_EDITOR_VERSION: "vscode/1.0\u00e9" }));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("COPILOT_API_EDITOR_VERSION");
      expect(result.stderr).not.toContain("listening");
    } finally {
      fake.stop();
    }
  });
});

describe("a GitHub token that GitHub refuses", () => {
  test("is answered at once with 503, x-should-retry: false and what to do, without asking GitHub again", async () => {
    await withServer(
      () => {},
      (fake) => ({ ...fake.env(), GH_TOKEN: "gho_revoked_or_mistyped" }),
      async (server, fake) => {
        for (let i = 0; i < 3; i++) {
          const response = await chat(server.url, { model: "gpt-4o" });
          expect(response.status).toBe(503);
          expect(response.headers.get("x-should-retry")).toBe("false");
          const error = ((await response.json()) as { error: { message: string; code: string } }).error;
          expect(error.code).toBe("github_token_rejected");
          expect(error.message).toContain("GH_TOKEN cannot change under a running server: restart copilot-api with a valid one");
        }
        // The boot's exchange was refused; the three requests were answered from memory.
        expect(fake.requests.filter((r) => r.path === "/copilot_internal/v2/token")).toHaveLength(1);
        expect(server.log()).not.toContain("gho_revoked_or_mistyped");
      },
    );
  });
});

describe("keep-alive on long silent streams", () => {
  const keepAlive = (fake: FakeUpstream) => ({ ...withFake(fake), COPILOT_API_SSE_KEEPALIVE_SECONDS: "0.2" });

  test("an SSE comment is sent while upstream is silent, and the events arrive unchanged", async () => {
    await withServer(
      (fake) => (fake.pauseMs = 1500),
      keepAlive,
      async (server) => {
        const response = await chat(server.url, { model: "pause", stream: true });
        expect(response.status).toBe(200);
        const text = await response.text();
        expect(text).toContain("\n\n: keep-alive\n\n");
        const events = text.split("\n\n").filter((e) => e && !e.startsWith(":"));
        expect(events.at(-1)).toBe("data: [DONE]");
        expect(events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, "")))).toEqual(streamChunks("pause").map((c) => strictChunk(c, "pause")));
      },
    );
  });

  test("is never put inside an event that upstream left half-written", async () => {
    await withServer(
      (fake) => (fake.pauseMs = 1500),
      keepAlive,
      async (server) => {
        const text = await (await chat(server.url, { model: "pause-mid-event", stream: true })).text();
        // The chat route passes on whole lines only (strict-client fields), so the half event is
        // held back and keep-alives go before it, never into it.
        expect(text.split(": keep-alive\n\n").every((part, i, all) => i === all.length - 1 || part === "" || part.endsWith("\n\n"))).toBe(true);
        const events = text.split("\n\n").filter((e) => e && !e.startsWith(":"));
        expect(events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, "")))).toEqual(
          streamChunks("pause-mid-event").map((c) => strictChunk(c, "pause-mid-event")),
        );
      },
    );
  });
});

describe("the Copilot base URL", () => {
  test("comes from the token exchange's endpoints.api when no override is set", async () => {
    await withServer(
      (fake) => (fake.endpointsApi = `http://copilot-api.tenant-a.localhost:${new URL(fake.url).port}`),
      (fake) => ({ COPILOT_API_GITHUB_URL: fake.url, COPILOT_API_GITHUB_API_URL: fake.url, GH_TOKEN: fake.githubToken }),
      async (server, fake) => {
        expect((await chat(server.url, { model: "gpt-4o" })).status).toBe(200);
        expect(fake.requests.filter((r) => r.path === "/chat/completions").at(-1)!.headers.host).toBe(
          `copilot-api.tenant-a.localhost:${new URL(fake.url).port}`,
        );
      },
    );
  });
});

describe("--enterprise-url (GitHub Enterprise Cloud)", () => {
  test("auth, start and quota talk to the tenant's hosts: HOST, api.HOST and copilot-api.HOST", async () => {
    const fake = startFakeUpstream();
    fake.endpointsApi = null; // the token names no endpoint: the tenant's Copilot URL is the fallback
    const port = new URL(fake.url).port;
    const tenant = `http://octocorp.localhost:${port}`;
    const home = tempDir();
    const env = isolatedEnv(home); // no COPILOT_API_*_URL: only the flag points at the fake
    try {
      const auth = await cli(["auth", "--enterprise-url", tenant], env);
      expect(auth.code).toBe(0);
      const logins = fake.requests.filter((r) => r.path.startsWith("/login/"));
      expect(logins.length).toBeGreaterThan(1);
      for (const login of logins) expect(login.headers.host).toBe(`octocorp.localhost:${port}`);

      const server = await startServer(["--enterprise-url", tenant], env);
      try {
        expect((await chat(server.url, { model: "gpt-4o" })).status).toBe(200);
      } finally {
        await server.stop();
      }
      expect(fake.requests.find((r) => r.path === "/copilot_internal/v2/token")!.headers.host).toBe(`api.octocorp.localhost:${port}`);
      expect(fake.requests.find((r) => r.path === "/chat/completions")!.headers.host).toBe(`copilot-api.octocorp.localhost:${port}`);

      const quota = await cli(["quota", "--json", "--enterprise-url", tenant], env);
      expect(quota.code).toBe(0);
      expect(fake.requests.find((r) => r.path === "/copilot_internal/user")!.headers.host).toBe(`api.octocorp.localhost:${port}`);
    } finally {
      fake.stop();
    }
  });

  test("refuses plain http for a real tenant, and a URL with a path", async () => {
    const env = isolatedEnv(tempDir());
    const http = await cli(["doctor", "--enterprise-url", "http://octocorp.ghe.com"], env);
    expect(http.code).toBe(1);
    expect(http.stderr).toContain("must use https");
    const path = await cli(["doctor", "--enterprise-url", "octocorp.ghe.com/login"], env);
    expect(path.code).toBe(1);
    expect(path.stderr).toContain("without a path");
  });
});

describe("GET /admin/quota", () => {
  let fake: FakeUpstream;
  let server: RunningServer;
  let admin: CreatedKey;
  let client: CreatedKey;

  beforeAll(async () => {
    fake = startFakeUpstream();
    const env = isolatedEnv(tempDir(), withFake(fake));
    admin = await createKey(env, "--tier", "admin");
    client = await createKey(env);
    server = await startServer([], env);
  });
  afterAll(async () => {
    await server.stop();
    fake.stop();
  });

  const quota = (key: CreatedKey) => fetch(`${server.url}/admin/quota`, { headers: { authorization: `Bearer ${key.secret}` } });

  test("answers the plan, each counter's entitlement, used and remaining, and the reset date; asks GitHub once a minute at most", async () => {
    const response = await quota(admin);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      plan: "individual_pro",
      resetDate: "2026-12-01",
      premiumInteractions: {
        unlimited: false,
        entitlement: 1500,
        used: 445.75,
        remaining: 1054.25,
        percentRemaining: 70.28,
        overage: 0,
        overagePermitted: true,
      },
      chat: { unlimited: true, entitlement: null },
      completions: { unlimited: true },
    });
    expect((await quota(admin)).status).toBe(200);
    const asked = fake.requests.filter((r) => r.path === "/copilot_internal/user");
    expect(asked).toHaveLength(1);
    expect(asked[0]!.headers.authorization).toBe(`token ${fake.githubToken}`);
  });

  test("is for admin keys only", async () => {
    const response = await quota(client);
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("admin_only");
  });
});
