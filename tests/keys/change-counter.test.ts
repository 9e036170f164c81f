import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { compose } from "~/compose";
import { openStore, type Store } from "~/db";
import { keys } from "~/db/schema";
import { createKey } from "~/features/keys";
import { revokeKey } from "~/features/keys/queries";
import { appOptions, cleanUpAfterFile, sqlite3, tempDir } from "../helpers";
import { captureLog } from "../log-capture";

cleanUpAfterFile();

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** The app as start.ts composes it over a fresh store, with one admin key (admin routes need no upstream). */
function app() {
  const quiet = captureLog();
  try {
    const store = openStore({ path: join(tempDir(), "copilot-api.db") });
    const admin = createKey(store.db, { tier: "admin", label: "", allowedModels: ["*"], rateLimit: null });
    const composed = compose(store, { ...appOptions(), env: {} });
    const status = async () => (await composed.app.request("/admin/usage", { headers: { authorization: `Bearer ${admin.secret}` } })).status;
    return { ...composed, admin, status };
  } finally {
    quiet.release();
  }
}

/** Every way this process writes a row, each used to revoke the key. */
const WRITE_PATHS: Record<string, (store: Store, id: string) => void> = {
  "a Drizzle statement outside any transaction (what the dashboard does)": (store, id) => revokeKey(store.db, id),
  "a Store transaction": (store, id) => store.transaction((tx) => revokeKey(tx as never, id)),
  "a raw statement on the connection": (store, id) => store.sqlite.run("UPDATE keys SET revoked_at = ? WHERE id = ?", [Date.now(), id]),
};

describe("the store's change counter: no cache has to be told about a write", () => {
  for (const [path, revoke] of Object.entries(WRITE_PATHS)) {
    test(`a key revoked through ${path} is refused on the next request, with no invalidate`, async () => {
      const { store, admin, status, close } = app();
      try {
        expect(await status()).toBe(200);
        expect(await status()).toBe(200); // now cached
        revoke(store, admin.row.id);
        expect(await status()).toBe(401);
      } finally {
        await close();
      }
    });
  }

  test("a key revoked by another process (the sqlite3 CLI, else a second connection) is refused on the next request over HTTP", async () => {
    const { store, admin, app: hono, close } = app();
    // A real listener: each request arrives in a turn of its own, as it does for users.
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: hono.fetch });
    const status = async () => (await fetch(`http://127.0.0.1:${server.port}/admin/usage`, { headers: { authorization: `Bearer ${admin.secret}` } })).status;
    try {
      expect(await status()).toBe(200);
      expect(await status()).toBe(200);
      const sql = `UPDATE keys SET revoked_at = ${Date.now()} WHERE id = '${admin.row.id}'`;
      if (sqlite3(store.path, sql) === undefined) {
        const other = openStore({ path: store.path });
        other.sqlite.run(sql);
        other.close();
      }
      expect(await status()).toBe(401);
    } finally {
      server.stop(true);
      await close();
    }
  });

  test("changeCounter() moves for this connection's writes at once, and for another connection's commit from the next turn", async () => {
    const quiet = captureLog();
    const store = openStore({ path: join(tempDir(), "copilot-api.db") });
    const other = openStore({ path: store.path });
    quiet.release();
    try {
      const start = store.changeCounter();
      expect(store.changeCounter()).toBe(start); // nothing written: it stays put
      createKey(store.db, { tier: "client", label: "", allowedModels: ["*"], rateLimit: null });
      const afterOwn = store.changeCounter();
      expect(afterOwn).not.toBe(start);
      await nextTurn();
      expect(store.changeCounter()).toBe(afterOwn);
      other.db.update(keys).set({ label: "renamed elsewhere" }).run();
      await nextTurn();
      expect(store.changeCounter()).not.toBe(afterOwn);
    } finally {
      other.close();
      store.close();
    }
  });
});

describe("background writes leave the change counter alone", () => {
  test("a background write (events, usage, last-used times) does not move changeCounter(); any other write still does", () => {
    const quiet = captureLog();
    const store = openStore({ path: join(tempDir(), "copilot-api.db") });
    quiet.release();
    try {
      const start = store.changeCounter();
      store.backgroundWrite(() => store.sqlite.run("INSERT INTO usage_hourly (hour, key_id, model) VALUES (1, 'k', 'm')"));
      store.backgroundWrite(() => store.transaction(() => store.sqlite.run("UPDATE usage_hourly SET requests = 2")));
      expect(store.changeCounter()).toBe(start);
      store.sqlite.run("UPDATE usage_hourly SET requests = 3");
      expect(store.changeCounter()).not.toBe(start);
    } finally {
      store.close();
    }
  });

  test("a request's own event does not empty the key cache: the counter the key cache reads stays put across answered requests", async () => {
    const { store, admin, status, app: hono, close } = app();
    // A model request is recorded (the admin routes are not); without a GitHub token it answers 503, and its event is written all the same.
    const modelRequest = async () =>
      (
        await hono.request("/v1/chat/completions", {
          method: "POST",
          body: JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] }),
          headers: { authorization: `Bearer ${admin.secret}`, "content-type": "application/json" },
        })
      ).status;
    try {
      expect(await modelRequest()).toBe(503);
      const before = store.changeCounter();
      for (let i = 0; i < 3; i++) expect(await modelRequest()).toBe(503);
      expect(store.sqlite.query("SELECT count(*) AS n FROM events").get()).toEqual({ n: 4 }); // each request's event was written before its answer…
      expect(store.changeCounter()).toBe(before); // …without moving the counter
      revokeKey(store.db, admin.row.id);
      expect(await status()).toBe(401);
    } finally {
      await close();
    }
  });
});
