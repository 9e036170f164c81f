import { afterAll, describe, expect, test } from "bun:test";
import { signInLinks } from "~/db/schema";
import { createSignInLink } from "~/features/dashboard/sign-in-link";
import { createKey, revokeKey } from "~/features/keys";
import { cleanUpAfterFile, cli, isolatedEnv, startServer, tempDir } from "../helpers";
import { sessionCookie, startDashboard } from "./harness";

cleanUpAfterFile();

const dash = startDashboard();
afterAll(() => dash.stop());

const open = (token: string) => dash.request(`/dashboard/link?token=${encodeURIComponent(token)}`, { redirect: "manual" });

describe("one-time dashboard sign-in links", () => {
  test("a link signs the browser in once, as the admin key it was made for", async () => {
    const token = createSignInLink(dash.store.db, dash.admin.id);
    const first = await open(token);
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/dashboard");
    const cookie = sessionCookie(first)!;
    expect(cookie).toBeDefined();
    const page = await dash.request("/dashboard/keys", { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("ops laptop");

    const again = await open(token);
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe("/dashboard/login?notice=link-used");
    expect(sessionCookie(again)).toBeUndefined();
    const notice = await dash.request("/dashboard/login?notice=link-used");
    expect(await notice.text()).toContain("already used or has expired");
  });

  test("the token is never stored, only its hash", () => {
    const token = createSignInLink(dash.store.db, dash.admin.id);
    const rows = dash.store.db.select().from(signInLinks).all();
    expect(rows.some((r) => r.tokenHash === token)).toBe(false);
    expect(rows.some((r) => r.tokenHash === new Bun.CryptoHasher("sha256").update(token).digest("hex"))).toBe(true);
  });

  test("an expired link, a made-up token and a revoked key's link open nothing", async () => {
    const late = createSignInLink(dash.store.db, dash.admin.id, Date.now() - 11 * 60_000);
    expect(sessionCookie(await open(late))).toBeUndefined();
    expect(sessionCookie(await open("x".repeat(43)))).toBeUndefined();
    expect(sessionCookie(await open("not-a-token"))).toBeUndefined();
    const { row } = createKey(dash.store.db, { tier: "admin", label: "doomed", allowedModels: ["*"], rateLimit: null });
    const doomed = createSignInLink(dash.store.db, row.id);
    revokeKey(dash.store.db, row.id);
    expect(sessionCookie(await open(doomed))).toBeUndefined();
    // A client key's link (only reachable by hand) opens nothing either.
    const client = createSignInLink(dash.store.db, dash.client.id);
    expect(sessionCookie(await open(client))).toBeUndefined();
  });
});

describe("finding the dashboard", () => {
  test("`dashboard` without an admin key says how to get one; --create-key makes one and its link works on a running server", async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    const none = await cli(["dashboard"], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no active admin key");
    expect(none.stderr).toContain("--create-key");
    // From a source checkout, the hint names the command that works there.
    expect(none.stderr).toContain("`bun run cli keys create --tier admin`");

    const server = await startServer([], env);
    expect(server.log()).toContain(`dashboard: ${server.url}/dashboard`);
    const root = await fetch(`${server.url}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/dashboard");

    const port = new URL(server.url).port;
    const made = await cli(["dashboard", "--create-key", "--port", port], env);
    expect(made.code).toBe(0);
    const link = made.stdout.trim();
    expect(link).toMatch(new RegExp(`^${server.url}/dashboard/link\\?token=[A-Za-z0-9_-]{43}$`));
    const signedIn = await fetch(link, { redirect: "manual" });
    expect(signedIn.status).toBe(303);
    const cookie = sessionCookie(signedIn)!;
    expect((await fetch(`${server.url}/dashboard`, { headers: { cookie }, redirect: "manual" })).status).toBe(200);
    await server.stop();
  });
});
