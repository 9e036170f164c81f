// Several GitHub credentials through one gateway: real CLI and server processes against the fake upstream.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeUpstream } from "../fake-upstream";
import { appDirOf, cleanUpAfterFile, cli, createKey, dbFileOf, isolatedEnv, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

const ALICE = "gho_alice_token_0123456789abcdef";
const BOB = "github_pat_11BOB0000000000000000000000";
const ALICE_RENEWED = "gho_alice_renewed_0123456789abcdef";
const fake = startFakeUpstream();
fake.users.set(ALICE, { login: "alice", plan: "individual_pro" });
fake.users.set(BOB, { login: "bob", plan: "business" });
fake.users.set(ALICE_RENEWED, { login: "alice", plan: "individual_pro" });
afterAll(() => fake.stop());

const rows = <T>(file: string, sql: string): T[] => {
  const db = new Database(file, { readonly: true });
  try {
    return db.query<T, []>(sql).all();
  } finally {
    db.close();
  }
};

const chat = (url: string, secret: string, userId?: string) =>
  fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({
      model: "claude-sonnet-4.5",
      max_tokens: 20,
      messages: [{ role: "user", content: "hi" }],
      ...(userId ? { metadata: { user_id: userId } } : {}),
    }),
  });

async function addCredential(env: Record<string, string>, label: string, token: string): Promise<void> {
  const file = join(tempDir(), `${label}.token`);
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  const added = await cli(["credentials", "add", "--label", label, "--token-file", file], env);
  expect(added.stderr).toContain(`credential ${label} stored`);
  expect(added.code).toBe(0);
}

/** Every file under a folder, recursively, as bytes. */
const filesUnder = (dir: string): Buffer[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => readFileSync(join(entry.parentPath, entry.name)));

describe("credentials", () => {
  let home: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    home = tempDir();
    env = isolatedEnv(home, { ...fake.env(), GH_TOKEN: fake.githubToken });
    await addCredential(env, "alice", ALICE);
    await addCredential(env, "bob", BOB);
  });

  test("list shows login, plan and state, never a token; the key file is 0600 beside the database", async () => {
    const listed = await cli(["credentials", "list", "--json"], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(ALICE);
    const list = JSON.parse(listed.stdout) as { label: string; githubLogin: string; plan: string; state: string; kind: string }[];
    expect(list.map((c) => [c.label, c.githubLogin, c.plan, c.state, c.kind])).toEqual([
      ["alice", "alice", "individual_pro", "ok", "pat"],
      ["bob", "bob", "business", "ok", "pat"],
    ]);
    expect(statSync(join(appDirOf(home), "credentials.key")).mode & 0o777).toBe(0o600);
    expect((await cli(["credentials", "test", "alice"], env)).stderr).toContain("credential alice works: GitHub alice");
  });

  test("two keys bound to two credentials reach Copilot on their own seats, recorded apart; remove refuses while bound", async () => {
    const a = await createKey(env, "--credential", "alice");
    const b = await createKey(env, "--credential", "bob");
    const unbound = await createKey(env);
    const server = await startServer([], env);
    try {
      const before = fake.requests.length;
      for (const secret of [a.secret, b.secret, a.secret, unbound.secret]) expect((await chat(server.url, secret)).status).toBe(200);
      const logins = fake.requests
        .slice(before)
        .filter((r) => r.path === "/v1/messages")
        .map((r) => r.login);
      expect(logins).toEqual(["alice", "bob", "alice", "octocat"]);
    } finally {
      await server.stop();
    }
    const byCredential = rows<{ key_id: string; label: string | null; n: number }>(
      dbFileOf(home),
      "SELECT e.key_id, c.label, count(*) AS n FROM events e LEFT JOIN credentials c ON c.id = e.credential_id GROUP BY e.key_id ORDER BY n DESC",
    );
    expect(byCredential).toEqual(
      expect.arrayContaining([
        { key_id: a.id, label: "alice", n: 2 },
        { key_id: b.id, label: "bob", n: 1 },
        { key_id: unbound.id, label: null, n: 1 },
      ]),
    );
    const refused = await cli(["credentials", "remove", "bob"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("1 key(s) are bound to credential bob");
  });

  test("a pool keeps a conversation on one seat and fails over on a 429 with no request lost, each move logged", async () => {
    const key = await createKey(env);
    const server = await startServer(["--pool", "alice,bob"], env);
    try {
      const seatOf = async (userId: string) => {
        const before = fake.requests.length;
        expect((await chat(server.url, key.secret, userId)).status).toBe(200);
        return fake.requests.slice(before).findLast((r) => r.path === "/v1/messages")!.login!;
      };
      // Affinity: the same metadata.user_id lands on the same seat every time; different ones spread.
      const seats = new Map<string, string>();
      for (let i = 0; i < 8; i++) seats.set(`user-${i}`, await seatOf(`user-${i}`));
      for (const [user, seat] of seats) expect(await seatOf(user)).toBe(seat);
      expect(new Set(seats.values())).toEqual(new Set(["alice", "bob"]));

      // alice's window runs out: every conversation still gets its answer, from bob.
      fake.rateLimitedLogins.add("alice");
      const answers = await Promise.all([...seats.keys()].map((user) => chat(server.url, key.secret, user).then((r) => r.status)));
      expect(answers.every((status) => status === 200)).toBe(true);
      expect(server.log()).toContain("pool: credential alice: Copilot answered HTTP 429; request moved to credential bob");
    } finally {
      fake.rateLimitedLogins.clear();
      await server.stop();
    }
  });

  test("a bound key whose credential GitHub refuses gets a 503 naming the credential and what to do", async () => {
    const a = await createKey(env, "--credential", "alice");
    fake.refusedTokens.add(ALICE);
    const server = await startServer([], env);
    try {
      const answer = await chat(server.url, a.secret);
      expect(answer.status).toBe(503);
      const body = (await answer.json()) as { error: { message: string } };
      expect(body.error.message).toContain("refused the token of credential alice");
      expect(body.error.message).toContain("bun run cli auth --label alice");
      expect(body.error.message).toContain("a running server picks it up on its next request, no restart needed");
      const state = rows<{ state: string }>(dbFileOf(home), "SELECT state FROM credentials WHERE label = 'alice'")[0]!.state;
      expect(state).toBe("refused");

      // A new token for alice, added while the server runs: the same server answers her key (it looks again every 2 s).
      await addCredential(env, "alice", ALICE_RENEWED);
      let status = 503;
      for (const deadline = Date.now() + 20_000; status === 503 && Date.now() < deadline; await Bun.sleep(200)) {
        const again = await chat(server.url, a.secret);
        status = again.status;
        await again.body?.cancel();
      }
      expect(status).toBe(200);
      expect(server.log()).toContain("credential alice: its token was replaced; requests use it from now on (no restart needed)");
      expect(server.log()).not.toContain(ALICE_RENEWED);
    } finally {
      fake.refusedTokens.clear();
      await server.stop();
    }
    // Put back as the other tests expect it.
    await addCredential(env, "alice", ALICE);
  });

  test("the raw tokens are nowhere in the database, its WAL, a db backup, nor a Litestream replica", async () => {
    const replica = join(tempDir("copilot-api-replica-"), "replica");
    const key = await createKey(env, "--credential", "bob");
    const server = await startServer(["--replicate-to", `file://${replica}`], env);
    try {
      expect((await chat(server.url, key.secret)).status).toBe(200);
      const backup = join(tempDir(), "backup.db");
      expect((await cli(["db", "backup", "--out", backup], env)).code).toBe(0);
      const deadline = Date.now() + 20_000;
      while (!(existsSync(replica) && filesUnder(replica).length > 0) && Date.now() < deadline) await Bun.sleep(100);
      const files = [
        readFileSync(dbFileOf(home)),
        ...(existsSync(`${dbFileOf(home)}-wal`) ? [readFileSync(`${dbFileOf(home)}-wal`)] : []),
        readFileSync(backup),
        ...filesUnder(replica),
      ];
      expect(files.length).toBeGreaterThan(3);
      for (const bytes of files) for (const token of [ALICE, BOB]) expect(bytes.includes(Buffer.from(token))).toBe(false);
      // The sealed tokens are there: the test would see them if they were stored in the clear.
      expect(rows<{ n: number }>(backup, "SELECT count(*) AS n FROM credentials")[0]!.n).toBe(2);
    } finally {
      await server.stop();
    }
  });

  test("a wrong key file: bound keys get a 503 naming the file and what to do; unbound keys are served as before", async () => {
    const bound = await createKey(env, "--credential", "bob");
    const unbound = await createKey(env);
    const keyFile = join(appDirOf(home), "credentials.key");
    const original = readFileSync(keyFile);
    writeFileSync(keyFile, Buffer.alloc(32, 9));
    const server = await startServer([], env);
    try {
      const answer = await chat(server.url, bound.secret);
      expect(answer.status).toBe(503);
      const message = ((await answer.json()) as { error: { message: string } }).error.message;
      expect(message).toContain(`the key file ${keyFile} does not open the stored credentials`);
      expect(message).toContain("credentials add --label LABEL");
      expect((await chat(server.url, unbound.secret)).status).toBe(200);
    } finally {
      writeFileSync(keyFile, original);
      await server.stop();
    }
  });
});
