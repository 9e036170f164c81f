// Credentials and --pool on a PostgreSQL store two gateways share: the CLI with --database-url, seats chosen by every gateway, tokens sealed.
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeUpstream } from "../fake-upstream";
import { appDirOf, cleanUpAfterFile, cli, createKey, isolatedEnv, startServer, tempDir } from "../helpers";
import { NO_POSTGRES, pgRows, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/postgres/credentials.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;

const ALICE = "gho_pg_alice_token_0123456789abcdef";
const BOB = "github_pat_11PGBOB000000000000000000000";
const fake = startFakeUpstream();
fake.users.set(ALICE, { login: "alice", plan: "individual_pro" });
fake.users.set(BOB, { login: "bob", plan: "business" });
afterAll(() => fake.stop());

const chat = (url: string, secret: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] }),
  });

/** The GitHub login whose seat answered one chat request (the fake records whose Copilot token it carried). */
async function loginOf(url: string, secret: string): Promise<string | undefined> {
  const before = fake.requests.length;
  const response = await chat(url, secret);
  expect(response.status).toBe(200);
  await response.text();
  return fake.requests.slice(before).findLast((r) => r.path === "/chat/completions")?.login;
}

/** Asks until the seat is `want` (a gateway sees a CLI write on NOTIFY, or its poll within a second). */
async function loginBecomes(url: string, secret: string, want: string): Promise<string | undefined> {
  let login: string | undefined;
  for (let i = 0; i < 60 && login !== want; i++) {
    login = await loginOf(url, secret);
    if (login !== want) await Bun.sleep(50);
  }
  return login;
}

async function addCredential(env: Record<string, string>, label: string, token: string) {
  const file = join(tempDir(), `${label}.token`);
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return cli(["credentials", "add", "--label", label, "--token-file", file], env);
}

describe.skipIf(!bin)("credentials on PostgreSQL", () => {
  test("added by the CLI, seen by two running gateways; bound keys and --pool reach their seats; tokens sealed; remove refused while bound, audited", async () => {
    const url = await server!.freshDatabase();
    const upstream = { ...fake.env(), GH_TOKEN: fake.githubToken, COPILOT_API_DATABASE_URL: url };
    const homeA = tempDir();
    const homeB = tempDir();
    const envA = isolatedEnv(homeA, upstream);
    const envB = isolatedEnv(homeB, upstream);

    const alice = await addCredential(envA, "alice", ALICE);
    expect(alice.code).toBe(0);
    expect(alice.stderr).toContain(`credential alice stored (pat, GitHub alice, plan individual_pro`);
    expect(alice.stderr).toContain(join(appDirOf(homeA), "credentials.key"));
    // The second machine gets the same key file (as docs/scaling.md says to do): it opens the same sealed tokens.
    mkdirSync(appDirOf(homeB), { recursive: true, mode: 0o700 });
    copyFileSync(join(appDirOf(homeA), "credentials.key"), join(appDirOf(homeB), "credentials.key"));

    const gatewayA = await startServer([], envA);
    const gatewayB = await startServer(["--pool", "alice"], envB);
    try {
      // bob is added while both gateways run, and a key bound to him: both route it to his seat.
      expect((await addCredential(envA, "bob", BOB)).code).toBe(0);
      const toBob = await createKey(envA, "--credential", "bob");
      const unbound = await createKey(envA);
      expect(await loginBecomes(gatewayB.url, toBob.secret, "bob")).toBe("bob");
      expect(await loginBecomes(gatewayA.url, toBob.secret, "bob")).toBe("bob");
      // An unbound key: the default token on A, the pool's seat on B.
      expect(await loginOf(gatewayA.url, unbound.secret)).toBe("octocat");
      expect(await loginOf(gatewayB.url, unbound.secret)).toBe("alice");

      // The events name the seat that answered.
      const seats = await pgRows<{ key_id: string; label: string | null }>(
        url,
        "SELECT e.key_id, c.label FROM events e LEFT JOIN credentials c ON c.id = e.credential_id ORDER BY e.id",
      );
      expect(new Set(seats.filter((row) => row.key_id === toBob.id).map((row) => row.label))).toEqual(new Set(["bob"]));
      expect(seats.filter((row) => row.key_id === unbound.id).map((row) => row.label)).toEqual([null, "alice"]);

      // Listed with who they are, never a token; sealed in the database; in no log.
      const listed = await cli(["credentials", "list", "--json"], envB);
      expect(listed.code).toBe(0);
      const list = JSON.parse(listed.stdout) as { label: string; githubLogin: string; plan: string; state: string; boundKeys: number }[];
      expect(list.map((c) => [c.label, c.githubLogin, c.plan, c.state, c.boundKeys])).toEqual([
        ["alice", "alice", "individual_pro", "ok", 0],
        ["bob", "bob", "business", "ok", 1],
      ]);
      expect(listed.stdout).not.toContain("tokenSealed");
      const stored = await pgRows<{ raw: string }>(url, "SELECT encode(token_sealed, 'escape') AS raw FROM credentials");
      expect(stored).toHaveLength(2);
      for (const row of stored) for (const token of [ALICE, BOB]) expect(row.raw).not.toContain(token);
      for (const text of [gatewayA.log(), gatewayB.log(), listed.stderr]) for (const token of [ALICE, BOB]) expect(text).not.toContain(token);
      expect((await cli(["credentials", "test", "bob"], envB)).stderr).toContain("credential bob works: GitHub bob");
      // `quota` on the other machine opens them with its copy of the key file and asks GitHub for each seat's counters.
      const quota = await cli(["quota", "--json"], envB);
      expect(quota.code).toBe(0);
      const counters = JSON.parse(quota.stdout) as { credentials: { label: string; report?: { plan: string } }[] };
      expect(counters.credentials.map((c) => [c.label, c.report?.plan])).toEqual([
        ["alice", "individual_pro"],
        ["bob", "business"],
      ]);
      for (const token of [ALICE, BOB]) expect(quota.stdout + quota.stderr).not.toContain(token);

      // Removing bob: refused while a key is bound; --force unbinds it, and the gateways send that key on the default token.
      const refused = await cli(["credentials", "remove", "bob"], envA);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("1 key(s) are bound to credential bob");
      expect((await cli(["credentials", "remove", "bob", "--force"], envA)).code).toBe(0);
      expect(await loginBecomes(gatewayA.url, toBob.secret, "octocat")).toBe("octocat");

      // Rebinding with `keys update --credential` (no other change) is seen by the gateways too.
      expect((await cli(["keys", "update", unbound.id, "--credential", "alice"], envA)).code).toBe(0);
      expect(await loginBecomes(gatewayA.url, unbound.secret, "alice")).toBe("alice");
      const unknown = await cli(["keys", "update", unbound.id, "--credential", "carol"], envA);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain("no credential labelled carol");

      const audited = await pgRows<{ action: string; actor_kind: string; before: unknown; after: unknown }>(
        url,
        "SELECT action, actor_kind, before, after FROM audit_log WHERE action LIKE 'credential.%' ORDER BY id",
      );
      expect(audited.map((row) => [row.action, row.actor_kind])).toEqual([
        ["credential.added", "cli"],
        ["credential.added", "cli"],
        ["credential.removed", "cli"],
      ]);
      expect(JSON.stringify(audited)).not.toContain("tokenSealed");
      expect(audited[2]?.after).toEqual({ keysUnbound: 1 });
    } finally {
      await gatewayA.stop();
      await gatewayB.stop();
    }
  });

  test("auth --label: the device flow's token sealed into the PostgreSQL store, listed there, never plain", async () => {
    const url = await server!.freshDatabase();
    const env = isolatedEnv(tempDir(), { ...fake.env(), COPILOT_API_DATABASE_URL: url });
    const signedIn = await cli(["auth", "--label", "dev"], env);
    expect(signedIn.code).toBe(0);
    expect(signedIn.stderr).toContain("credential dev stored (oauth, GitHub octocat");
    expect(signedIn.stderr).not.toContain(fake.githubToken);
    const listed = JSON.parse((await cli(["credentials", "list", "--json"], env)).stdout) as { label: string; kind: string; githubLogin: string }[];
    expect(listed.map((c) => [c.label, c.kind, c.githubLogin])).toEqual([["dev", "oauth", "octocat"]]);
    const stored = await pgRows<{ raw: string }>(url, "SELECT encode(token_sealed, 'escape') AS raw FROM credentials");
    expect(stored).toHaveLength(1);
    expect(stored[0]!.raw).not.toContain(fake.githubToken);
    const audited = await pgRows<{ action: string }>(url, "SELECT action FROM audit_log WHERE action LIKE 'credential.%'");
    expect(audited.map((row) => row.action)).toEqual(["credential.added"]);
  });

  test("--pool naming no credential fails the start, with what to do", async () => {
    const url = await server!.freshDatabase();
    const env = isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken, COPILOT_API_DATABASE_URL: url });
    const started = startServer(["--pool", "nobody"], env);
    expect(started).rejects.toThrow("--pool names no credential nobody");
    await started.catch(() => {});
  });
});
