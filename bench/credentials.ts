// What choosing a request's Copilot seat costs (issue 24: under 5 µs): a bound key's
// seat, and the pool's per-request Forwarder with its affinity hash, against the
// default token's choice (no credentials) as the baseline.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "~/db";
import { CredentialVault, SeatPool, Seats, sqliteCredentials, UpstreamRouter } from "~/features/credentials";
import { newDraft } from "~/features/events/draft";
import { NO_AUTH_KEY } from "~/features/keys/resolver";
import { upstreamUrls } from "~/upstream/config";
import { DefaultUpstream } from "~/upstream/default-upstream";
import { defaultTokenSource } from "~/upstream/github-token";
import { perCallNs, printTable, summarize } from "./lib";

export function benchCredentials(): void {
  const home = mkdtempSync(join(tmpdir(), "copilot-api-bench-"));
  const store = openStore({ path: join(home, "bench.db") });
  try {
    const vault = new CredentialVault(store);
    const ids = ["alice", "bob", "ci"].map(
      (label) => vault.add(store.db, { label, kind: "pat", token: `github_pat_${label}`, githubLogin: label, plan: "business" }).id,
    );
    const urls = upstreamUrls("individual", { env: {} });
    const seats = new Seats(sqliteCredentials(store.db), vault, urls);
    const pool = new SeatPool(seats.pool(["alice", "bob", "ci"]));
    const plain = new UpstreamRouter({});
    // The default token as start.ts builds it now: asked per request, so a new token is picked up without a restart.
    const watching = new UpstreamRouter(new DefaultUpstream(urls, "gho_bench", defaultTokenSource({}, "file")));
    const router = new UpstreamRouter({}, seats, pool);
    const unbound = { ...NO_AUTH_KEY, id: "key_0123456789" };
    const bound = { ...unbound, credentialId: ids[0]! };
    const draft = newDraft();
    let sink = 0;
    const baseline = summarize(
      "default token (no credentials)",
      perCallNs(() => {
        sink += plain.forRequest(unbound, draft).copilot ? 1 : 0;
      }),
    );
    const rows = [
      summarize(
        "default token that can change (DefaultUpstream, working token)",
        perCallNs(() => {
          sink += watching.forRequest(unbound, draft).copilot ? 1 : 0;
        }),
      ),
      summarize(
        "key bound to a credential",
        perCallNs(() => {
          sink += router.forRequest(bound, draft).copilot ? 1 : 0;
        }),
      ),
      summarize(
        "unbound key, pool of 3 (affinity hash)",
        perCallNs(() => {
          sink += router.forRequest(unbound, draft).catalog ? 1 : 0;
        }),
      ),
    ];
    if (sink === 0) throw new Error("nothing chosen");
    printTable("Choosing a request's Copilot seat (UpstreamRouter.forRequest)", "ns/request", baseline, rows);
  } finally {
    store.close();
    rmSync(home, { recursive: true, force: true });
  }
}
