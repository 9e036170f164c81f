import type { RetentionTarget } from "~/features/events";
import { GATEWAY_ACTOR } from "./actors";
import { type AuditEntry, deleteOldAudit } from "./queries";

/** --audit-retention-days (default 365): the audit log's only delete. */
export const auditRetention: RetentionTarget = { what: "audit entries", deleteBatch: deleteOldAudit };

/** A retention pass that deleted something: an admin action of the gateway's own, audited the same on either store. */
export const retentionAudit = (run: { what: string; deleted: number; cutoff: number; days: number }): AuditEntry => ({
  ...GATEWAY_ACTOR,
  action: "retention.run",
  target: run.what,
  after: { deleted: run.deleted, olderThanDays: run.days, cutoff: new Date(run.cutoff).toISOString() },
});
