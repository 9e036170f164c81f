import type { Store } from "~/db";
import { createKey, type KeyRow, type KeySpec, keyView } from "~/features/keys";
import { type AuditEntry, appendAudit } from "./queries";

type Actor = Pick<AuditEntry, "actorKind" | "actor" | "address" | "userAgent">;

/** Creates a key and its audit entry in one transaction (CLI, claude-code, dashboard): a key never exists unaudited. */
export function createKeyAudited(store: Store, spec: KeySpec, actor: Actor, now = Date.now()): { row: KeyRow; secret: string } {
  return store.transaction(() => {
    const created = createKey(store.db, spec, now);
    appendAudit(store.db, { ...actor, action: "key.created", target: created.row.id, after: keyView(created.row), ts: now });
    return created;
  });
}
