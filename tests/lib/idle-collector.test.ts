// The idle collector (src/lib/idle-collector.ts): one full collection once the server is quiet after a burst,
// never while a request is in flight or the process is busy, never for a heap that did not grow.
import { describe, expect, test } from "bun:test";
import { IdleCollector } from "~/lib/idle-collector";
import { cleanUpAfterFile } from "../helpers";

cleanUpAfterFile();

/**
 * Garbage as a burst leaves it: many small objects and strings held across turns (as requests in flight hold
 * theirs, so they outlive the young generation's collections), unreachable once this returns.
 */
async function burstOfGarbage(): Promise<number> {
  const held: unknown[] = [];
  for (let round = 0; round < 20; round++) {
    held.push(Array.from({ length: 10_000 }, (_, i) => ({ i, text: `data: {"delta":"${"x".repeat(64)}${i}"}` })));
    await Bun.sleep(1);
  }
  return held.length;
}

const quiet = () => Bun.sleep(300); // idle: the process uses almost no CPU while it sleeps

describe("the idle collector", () => {
  test("after a burst, once quiet, it collects once: the heap shrinks; a heap that did not grow again is left alone", async () => {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
    try {
      const collector = new IdleCollector(() => server.pendingRequests, { growthBytes: 8 * 1024 * 1024 });
      collector.start();
      await burstOfGarbage();
      const before = process.memoryUsage().heapUsed;
      expect(collector.check()).toBe(false); // busy since the last look: the burst itself
      await quiet();
      expect(collector.check()).toBe(true);
      expect(process.memoryUsage().heapUsed).toBeLessThan(before - 8 * 1024 * 1024);
      await quiet();
      expect(collector.check()).toBe(false);
      expect(collector.collections).toBe(1);
      collector.stop();
    } finally {
      server.stop(true);
    }
  });

  test("it never collects while a request is in flight, however much the heap grew", async () => {
    const { promise: released, resolve: release } = Promise.withResolvers<void>();
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async () => (await released, new Response("late")) });
    try {
      const collector = new IdleCollector(() => server.pendingRequests, { growthBytes: 1024 * 1024 });
      collector.start();
      const answer = fetch(`http://127.0.0.1:${server.port}/`).then((r) => r.text());
      while (server.pendingRequests === 0) await Bun.sleep(1);
      await burstOfGarbage();
      await quiet();
      expect(collector.check()).toBe(false);
      release();
      expect(await answer).toBe("late");
      while (server.pendingRequests > 0) await Bun.sleep(1);
      collector.check(); // the look that sees the end of the work
      await quiet();
      expect(collector.check()).toBe(true);
      collector.stop();
    } finally {
      server.stop(true);
    }
  });
});
