import type { RetentionTarget } from "~/features/events";
import { deleteOldAudit } from "./queries";

/** --audit-retention-days (default 365): the audit log's only delete. */
export const auditRetention: RetentionTarget = { what: "audit entries", deleteBatch: deleteOldAudit };
