import { afterAll, describe, expect, test } from "bun:test";
import { postForm, signIn } from "../dashboard/harness";
import { startFakeUpstream } from "../fake-upstream";
import {
  type CreatedKey,
  chatStatusBecomes,
  chatWithKey,
  cleanUpAfterFile,
  cli,
  createKeyByCli,
  isolatedEnv,
  type ProcessServer,
  responsesWithKey,
  startProcess,
  tempDir,
} from "../helpers";
import { NO_POSTGRES, pgRows, postgresBin, startPostgres } from "../postgres";

cleanUpAfterFile();

const bin = postgresBin();
if (!bin) console.warn(`tests/postgres/two-gateways.test.ts: ${NO_POSTGRES}`);
const server = bin ? startPostgres(bin) : undefined;
const fake = startFakeUpstream();
afterAll(() => fake.stop());

/**
 * Two `start --database-url` processes on one database, booted together (their migrations take
 * turns), after `keys create` with each of `keys` (so both gateways hold those keys from their first request).
 */
async function twoGateways(
  ...keys: string[][]
): Promise<{ url: string; env: Record<string, string>; a: ProcessServer; b: ProcessServer; created: CreatedKey[] }> {
  const url = await server!.freshDatabase();
  const env = isolatedEnv(tempDir(), { ...fake.env(), GH_TOKEN: fake.githubToken, COPILOT_API_DATABASE_URL: url });
  const created: CreatedKey[] = [];
  for (const args of keys) created.push(await createKeyByCli(env, ...args));
  const [a, b] = await Promise.all([startProcess([], env), startProcess([], env)]);
  return { url, env, a, b, created };
}

describe.skipIf(!bin)("two gateways on one PostgreSQL", () => {
  test("a key created or revoked anywhere is seen by both (NOTIFY, and the 1 s poll without it); a Responses chain continues across them", async () => {
    const { url, env, a, b } = await twoGateways();
    const key = await createKeyByCli(env);
    expect(await chatStatusBecomes(a.url, key.secret, 200)).toBe(200);
    expect(await chatStatusBecomes(b.url, key.secret, 200)).toBe(200);

    // Each turn on the other gateway, each sent the moment the last answer arrived.
    let previous: string | undefined;
    for (const [turn, gateway] of [a, b, a, b].entries()) {
      const answer = await responsesWithKey(gateway.url, key.secret, { input: `turn ${turn}`, ...(previous ? { previous_response_id: previous } : {}) });
      expect(answer.status).toBe(200);
      previous = ((await answer.json()) as { id: string }).id;
    }
    const sent = JSON.stringify(fake.requests.at(-1)?.body);
    for (const turn of [0, 1, 2, 3]) expect(sent).toContain(`turn ${turn}`);

    // Revoked by the CLI (NOTIFY): refused by both.
    expect((await cli(["keys", "revoke", key.id], env)).code).toBe(0);
    expect(await chatStatusBecomes(a.url, key.secret, 401)).toBe(401);
    expect(await chatStatusBecomes(b.url, key.secret, 401)).toBe(401);

    // Revoked behind the gateways' backs (no NOTIFY): the poll finds it.
    const other = await createKeyByCli(env);
    expect(await chatStatusBecomes(b.url, other.secret, 200)).toBe(200);
    await pgRows(url, `UPDATE keys SET revoked_at = ${Date.now()} WHERE id = '${other.id}'`);
    expect(await chatStatusBecomes(a.url, other.secret, 401)).toBe(401);
    expect(await chatStatusBecomes(b.url, other.secret, 401)).toBe(401);

    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
  });

  test("the dashboard behind a load balancer: a session opened on one gateway holds on the other, signing out on either ends it, a key revoked there is refused by both", async () => {
    const {
      a,
      b,
      created: [admin, client],
    } = await twoGateways(["--tier", "admin"], []);
    const session = await signIn(a.url, admin!.secret);
    const keysPage = (gateway: ProcessServer) => fetch(`${gateway.url}/dashboard/keys`, { redirect: "manual", headers: { cookie: session.cookie } });
    // Signed in on A, at home on B: the same session, the same keys.
    const onB = await keysPage(b);
    expect(onB.status).toBe(200);
    expect(await onB.text()).toContain(client!.id);

    // A key revoked from the dashboard on A is refused by B (NOTIFY), and audited as the session's.
    expect(await chatStatusBecomes(b.url, client!.secret, 200)).toBe(200);
    const revoked = await postForm(a.url, `/dashboard/keys/${client!.id}/revoke`, session.cookie, { csrf: session.csrf });
    expect(revoked.headers.get("location")).toBe(`/dashboard/keys?revoked=${client!.id}`);
    expect(await chatStatusBecomes(b.url, client!.secret, 401)).toBe(401);
    expect(await chatStatusBecomes(a.url, client!.secret, 401)).toBe(401);
    const audit = await fetch(`${b.url}/admin/audit?action=key.revoked`, { headers: { authorization: `Bearer ${admin!.secret}` } });
    expect(((await audit.json()) as { entries: { actorKind: string; actor: string; target: string }[] }).entries).toEqual([
      expect.objectContaining({ actorKind: "session", actor: admin!.id, target: client!.id }),
    ]);

    // Signed out on B: ended on A too.
    const out = await postForm(b.url, "/dashboard/logout", session.cookie, { csrf: session.csrf });
    expect(out.headers.get("location")).toBe("/dashboard/login?notice=signed-out");
    const onA = await keysPage(a);
    expect(onA.status).toBe(303);
    expect(onA.headers.get("location")).toBe("/dashboard/login?notice=ended");

    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
  });

  test("a --budget holds across both under concurrent load", async () => {
    const { url, env, a, b } = await twoGateways();
    // 7.8M nano-AIU per chat answer from the fake: room for 25 of them, and a 26th started under the limit.
    // What one answer of the fake's "slow" model (300 ms, so many are in flight at once) costs, read from a
    // key without a budget; asked of both gateways, so each has seen the model's cost (its holds' estimate).
    // Both gateways hold a new key before it is used (GET /v1/models spends nothing): the NOTIFY may still be on its way.
    const seenByBoth = async (secret: string) => {
      for (const gateway of [a, b]) {
        let status = 401;
        for (let i = 0; i < 60 && status === 401; i++) {
          status = (await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })).status;
          if (status === 401) await Bun.sleep(50);
        }
        expect(status).toBe(200);
      }
    };
    const probe = await createKeyByCli(env);
    await seenByBoth(probe.secret);
    for (const gateway of [a, b]) expect((await chatWithKey(gateway.url, probe.secret, "slow")).status).toBe(200);
    const [probed] = await pgRows<{ cost: string }>(url, `SELECT sum(cost_nano_aiu) / 2 AS cost FROM usage_hourly WHERE key_id = '${probe.id}'`);
    const perRequest = Number(probed?.cost);
    // Room for 12 answers, and a 13th started under the limit.
    const budget = perRequest * 12 + perRequest / 2;
    const key = await createKeyByCli(env, "--budget", `${budget / 1e9}credits`);
    await seenByBoth(key.secret);
    let answered = 0;
    let attempts = 0;
    const worker = async (gateway: ProcessServer) => {
      while (attempts++ < 2000) {
        const response = await chatWithKey(gateway.url, key.secret, "slow");
        const body = await response.text();
        if (response.status === 200) answered++;
        else if (response.status === 429 && body.includes("held by requests in flight")) await Bun.sleep(20);
        else if (response.status === 429 && body.includes("budget_exceeded")) return;
        else throw new Error(`unexpected ${response.status}: ${body}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, i) => worker(i % 2 ? a : b)));
    const [spent] = await pgRows<{ cost: string }>(url, `SELECT sum(cost_nano_aiu) AS cost FROM usage_hourly WHERE key_id = '${key.id}'`);
    console.log(`budget ${budget} nano-AIU: ${answered} answered, ${spent?.cost} spent over two gateways`);
    expect(Number(spent?.cost)).toBe(answered * perRequest);
    // Past the budget by at most the one request that started under it.
    expect(Number(spent?.cost)).toBeGreaterThanOrEqual(budget);
    expect(Number(spent?.cost)).toBeLessThan(budget + perRequest);
    // Every hold was let go once its event was committed.
    const [held] = await pgRows<{ n: number }>(url, "SELECT count(*)::int AS n FROM limit_holds");
    expect(held?.n).toBe(0);
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
  });

  test("a --rate-limit is one bucket across both gateways", async () => {
    // A burst of 3, then one more every 20 s: per gateway it would be 3 on each.
    const {
      a,
      b,
      created: [key],
    } = await twoGateways(["--rate-limit", "3"]);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 12; i++) {
      const response = await chatWithKey((i % 2 ? a : b).url, key!.secret, "gpt-4.1");
      statuses.push(response.status);
      if (response.status === 429) retryAfter = response.headers.get("retry-after");
      await response.text();
    }
    const answered = statuses.filter((status) => status === 200).length;
    expect(answered).toBeGreaterThanOrEqual(3);
    expect(answered).toBeLessThan(6);
    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
  });

  test("one gateway killed with -9 under load: nothing either acknowledged is lost, and the other goes on", async () => {
    const { url, a, b } = await twoGateways();
    const acknowledged: string[] = [];
    let sent = 0;
    let stop = false;
    let killed = false;
    // Each request names its own model, so its event row can be found again; every fourth streams.
    const worker = async (gateway: ProcessServer) => {
      while (!stop && !(killed && gateway === a) && sent < 4000) {
        const n = sent++;
        const model = `m-${n}`;
        try {
          const response = await fetch(`${gateway.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model, stream: n % 4 === 0, messages: [{ role: "user", content: "hi" }] }),
          });
          await response.text();
          if (response.status < 500) acknowledged.push(model);
        } catch {
          // in flight on the gateway that died
        }
      }
    };
    const workers = Array.from({ length: 24 }, (_, i) => worker(i % 2 ? a : b));
    while (acknowledged.length < 600) await Bun.sleep(10);
    a.proc.kill("SIGKILL");
    killed = true;
    await a.proc.exited;
    const atKill = acknowledged.length;
    // The other gateway keeps answering.
    while (acknowledged.length < atKill + 300) await Bun.sleep(10);
    stop = true;
    await Promise.all(workers);
    expect(await b.stop()).toBe(0);

    const stored = new Set((await pgRows<{ model: string }>(url, "SELECT model FROM events")).map((row) => row.model));
    const missing = acknowledged.filter((model) => !stored.has(model));
    console.log(`kill -9 of one gateway after ${atKill} answered requests (${acknowledged.length} in all): ${missing.length} answered without an event row`);
    expect(missing).toEqual([]);
  });
});
