// previous_response_id under a hostile client (issue 18): copilot-api with --body-limit-mb 1, a
// chain grown turn by turn until the gateway refuses to expand it (the largest chain accepted),
// then rounds of concurrent turns of 900 KB each continuing it (each under the body limit, each
// refused), and the server's peak resident memory (VmHWM) after each phase.
import { readFileSync } from "node:fs";
import { startFakeUpstream } from "../tests/fake-upstream";
import { startGateway } from "./gateway";

const MiB = 1024 * 1024;
const peakRss = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+) kB/)?.[1] ?? 0) * 1024;

export async function benchResponsesChain(): Promise<void> {
  const fake = startFakeUpstream();
  const gateway = await startGateway(fake, ["--body-limit-mb", "1"]);
  try {
    const post = (body: Record<string, unknown>) =>
      fetch(`${gateway.url}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${gateway.secret}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4.1", ...body }),
      });
    const atBoot = peakRss(gateway.pid);

    // 50 KB turns, each continuing the last, until the expansion is refused.
    const turn = 50_000;
    let previous: string | undefined;
    let accepted = 0;
    let refusal = "none within 100 turns";
    // Bounded in case a build has no limit (main before issue 18 accepted 51.5 MiB chains).
    while (accepted < 100) {
      const response = await post({ input: "x".repeat(turn), ...(previous ? { previous_response_id: previous } : {}) });
      if (response.status !== 200) {
        refusal = `${response.status} ${((await response.json()) as { error: { code: string } }).error.code}`;
        break;
      }
      previous = ((await response.json()) as { id: string }).id;
      accepted++;
    }
    const afterChain = peakRss(gateway.pid);

    // Hostile: 20 rounds of 8 concurrent 900 KB turns continuing the longest chain.
    const statuses = new Map<number, number>();
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all(Array.from({ length: 8 }, () => post({ input: "y".repeat(900_000), previous_response_id: previous })));
      for (const answer of answers) {
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        await answer.arrayBuffer();
      }
    }
    const afterHostile = peakRss(gateway.pid);

    console.log(
      [
        "\n### previous_response_id chains under --body-limit-mb 1\n",
        `- largest chain accepted: ${accepted} turns of ${turn / 1000} KB (about ${((accepted * turn) / MiB).toFixed(2)} MiB expanded); the next turn: ${refusal}`,
        `- 160 hostile 900 KB turns continuing it (8 at a time): ${[...statuses].map(([status, n]) => `${n} × ${status}`).join(", ")}`,
        `- server peak RSS: ${(atBoot / MiB).toFixed(0)} MiB at boot, ${(afterChain / MiB).toFixed(0)} MiB after the chain, ${(afterHostile / MiB).toFixed(0)} MiB after the hostile turns`,
      ].join("\n"),
    );
  } finally {
    await gateway.stop();
    fake.stop();
  }
}

if (import.meta.main) await benchResponsesChain();
