// Several GitHub credentials through one gateway: real CLI and server processes against the fake upstream.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { startFakeUpstream } from "../fake-upstream";
import { appDirOf, cleanUpAfterFile, cli, createKey, dbFileOf, isolatedEnv, rows, startProcess, startServer, tempDir } from "../helpers";

cleanUpAfterFile();

const ALICE = "gho_alice_token_0123456789abcdef";
const BOB = "github_pat_11BOB0000000000000000000000";
const ALICE_RENEWED = "gho_alice_renewed_0123456789abcdef";
const fake = startFakeUpstream();
fake.users.set(ALICE, { login: "alice", plan: "individual_pro" });
fake.users.set(BOB, { login: "bob", plan: "business" });
fake.users.set(ALICE_RENEWED, { login: "alice", plan: "individual_pro" });
afterAll(() => fake.stop());

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

  test("`quota` shows the default token's counters and each credential's, side by side", async () => {
    const shown = await cli(["quota", "--json"], env);
    expect(shown.code).toBe(0);
    const report = JSON.parse(shown.stdout) as { plan: string; credentials: { label: string; report?: { plan: string } }[] };
    expect(report.credentials.map((c) => [c.label, c.report?.plan])).toEqual([
      ["alice", "individual_pro"],
      ["bob", "business"],
    ]);
    expect(shown.stdout).not.toContain(ALICE);
    const table = await cli(["quota"], env);
    expect(table.stdout).toContain("default GitHub token");
    expect(table.stdout).toMatch(/credential alice \(cred_[0-9a-f]{12}\)\nplan individual_pro/);
    expect(table.stdout).toMatch(/credential bob \(cred_[0-9a-f]{12}\)\nplan business/);
  });

  test("adding, replacing and removing a credential are audited once each, as the OS user, never with its token", async () => {
    const CAROL = "github_pat_11CAROL00000000000000000000";
    fake.users.set(CAROL, { login: "carol", plan: "business" });
    await addCredential(env, "carol", CAROL);
    await addCredential(env, "carol", CAROL);
    const id = (JSON.parse((await cli(["credentials", "list", "--json"], env)).stdout) as { id: string; label: string }[]).find((c) => c.label === "carol")!.id;
    expect((await cli(["credentials", "remove", "carol"], env)).code).toBe(0);
    const audited = await cli(["audit", "--json", "--key", id], env);
    expect(audited.stdout).not.toContain(CAROL);
    expect(audited.stdout).not.toContain("tokenSealed");
    const entries = (JSON.parse(audited.stdout) as { action: string; actorKind: string; actor: string; before: unknown; after: unknown }[]).toReversed();
    expect(entries.map((e) => e.action)).toEqual(["credential.added", "credential.added", "credential.removed"]);
    for (const e of entries) expect({ kind: e.actorKind, actor: e.actor }).toEqual({ kind: "cli", actor: userInfo().username });
    expect(entries[0]).toMatchObject({ before: null, after: { label: "carol", githubLogin: "carol", kind: "pat" } });
    expect(entries[1]).toMatchObject({ before: { label: "carol" }, after: { label: "carol" } });
    expect(entries[2]).toMatchObject({ before: { label: "carol", id }, after: { keysUnbound: 0 } });
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
    // `usage --by credential` reads usage_hourly: exact after the events are gone (retention), on a copy of the store.
    const copy = join(tempDir(), "copy.db");
    copyFileSync(dbFileOf(home), copy);
    const copied = new Database(copy);
    copied.run("DELETE FROM events");
    copied.close();
    const usage = await cli(["usage", "--by", "credential", "--json", "--db-path", copy], env);
    const report = JSON.parse(usage.stdout) as { rows: { group: string; label?: string; requests: number }[] };
    expect(report.rows.map((r) => [r.label, r.requests]).sort()).toEqual([
      ["alice", 2],
      ["bob", 1],
      ["default token", 1],
    ]);
    expect((await cli(["usage", "--by", "credential", "--db-path", copy], env)).stdout).toMatch(/alice \(cred_[0-9a-f]{12}\)/);
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

  test("a pool continues a Responses conversation (previous_response_id) on the seat that answered its last turn", async () => {
    const key = await createKey(env);
    const server = await startServer(["--pool", "alice,bob"], env);
    const respond = async (previous?: string) => {
      const before = fake.requests.length;
      const answer = await fetch(`${server.url}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-5.1-codex", input: "hi", ...(previous ? { previous_response_id: previous } : {}) }),
      });
      expect(answer.status).toBe(200);
      const { id } = (await answer.json()) as { id: string };
      return { id, login: fake.requests.slice(before).findLast((r) => r.path === "/responses")!.login! };
    };
    try {
      // The key's own seat, then a new conversation pushed to the other seat by a 429 there.
      const keySeat = (await respond()).login;
      const other = keySeat === "alice" ? "bob" : "alice";
      fake.rateLimitedLogins.add(keySeat);
      const moved = await respond();
      expect(moved.login).toBe(other);
      fake.rateLimitedLogins.clear();
      // Its continuation goes back to the seat that answered it, not to the key's seat.
      await Bun.sleep(50); // the stored response is written on the next timer turn
      const next = await respond(moved.id);
      expect(next.login).toBe(other);
      expect((await respond(next.id)).login).toBe(other);
    } finally {
      fake.rateLimitedLogins.clear();
      await server.stop();
    }
    // Every stored turn names its seat.
    const stored = rows<{ n: number }>(dbFileOf(home), `SELECT count(*) AS n FROM responses WHERE key_id = '${key.id}' AND credential_id IS NOT NULL`);
    expect(stored).toEqual([{ n: 4 }]);
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
    const server = await startProcess(["--replicate-to", `file://${replica}`], env);
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
