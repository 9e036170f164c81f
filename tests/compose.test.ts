import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { compose } from "~/compose";
import { openStore } from "~/db";
import { createKey } from "~/features/keys";
import type { Worker } from "~/lib/worker";
import { appOptions, cleanUpAfterFile, tempDir } from "./helpers";
import { captureLog } from "./log-capture";

cleanUpAfterFile();

/** The app composed as start.ts composes it, over a store in a temp folder, without a GitHub token. */
function composed() {
  const log = captureLog();
  try {
    const store = openStore({ path: join(tempDir(), "copilot-api.db") });
    return compose(store, { ...appOptions(), env: {} });
  } finally {
    log.release();
  }
}

describe("compose: one app, one shutdown", () => {
  test("close() stops every worker even when one throws, closes the store last, and rejects with the first error", async () => {
    const app = composed();
    const stopped: string[] = [];
    const recording = (name: string, fail?: string): Worker => ({
      start() {},
      stop() {
        stopped.push(name);
        if (fail) throw new Error(fail);
      },
    });
    // Stopped in reverse: "last" first, then the two failing ones, then "first" and the app's own workers.
    app.workers.unshift(recording("first"));
    app.workers.push(recording("second failure", "second"), recording("first failure", "first"), recording("last"));
    const capture = captureLog();
    try {
      await expect(app.close()).rejects.toThrow("first");
    } finally {
      capture.release();
    }
    expect(stopped).toEqual(["last", "first failure", "second failure", "first"]);
    expect(capture.text()).toContain("after the first failure: second");
    // The store was closed after all that: its connection refuses statements.
    expect(() => app.store.sqlite.query("SELECT 1").get()).toThrow();
  });

  test("close() still closes the store when the worker stopped last throws", async () => {
    const app = composed();
    app.workers.unshift({ start() {}, stop: () => Promise.reject(new Error("recorder flush failed")) });
    await expect(app.close()).rejects.toThrow("recorder flush failed");
    expect(() => app.store.sqlite.query("SELECT 1").get()).toThrow();
  });

  test("every /admin/* path takes admin keys only, whatever route serves it (a client key gets 403, not 404)", async () => {
    const app = composed();
    try {
      const client = createKey(app.store.db, { tier: "client", label: "", allowedModels: ["*"], rateLimit: null });
      const admin = createKey(app.store.db, { tier: "admin", label: "", allowedModels: ["*"], rateLimit: null });
      const as = (secret: string, path: string) => app.app.request(path, { headers: { authorization: `Bearer ${secret}` } });
      for (const path of ["/admin/usage", "/admin/events.csv", "/admin/quota", "/admin/no-such-route"]) {
        const refused = await as(client.secret, path);
        expect(refused.status).toBe(403);
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("admin_only");
      }
      expect((await as(admin.secret, "/admin/usage")).status).toBe(200);
      expect((await as(admin.secret, "/admin/no-such-route")).status).toBe(404);
    } finally {
      await app.close();
    }
  });
});
