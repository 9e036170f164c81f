import type { Context } from "hono";
import type { KeyRow } from "~/features/keys";
import type { DashboardEnv } from "../env";
import { utc } from "../pages/format";
import { refusal } from "../pages/layout";
import { type Dashboard, KEY_ID } from "./context";

/** The key a /keys/:id/… URL names, and the refusals when it names none or a revoked one. */
export function keyLookup(d: Dashboard) {
  return {
    async keyOf(c: Context<DashboardEnv>): Promise<KeyRow | undefined> {
      const id = c.req.param("id") ?? "";
      return KEY_ID.test(id) ? d.store.keys.get(id) : undefined;
    },
    noSuchKey: (c: Context<DashboardEnv>) =>
      refusal(c, 404, { title: "No such key", message: "No key of this server has that id.", remedy: "Pick a key from the list." }, "/dashboard/keys"),
    revokedKey: (c: Context<DashboardEnv>, row: KeyRow) =>
      refusal(
        c,
        409,
        {
          title: "Key revoked",
          message: `${row.id} was revoked at ${utc(row.revokedAt)} UTC; a revoked key stays revoked.`,
          remedy: "Create a new key instead.",
        },
        "/dashboard/keys",
      ),
  };
}
