/** The audit feature's public face: append an admin action, read the log (CLI, /admin/audit, dashboard). */
export { cliActor, GATEWAY_ACTOR, httpActor } from "./actors";
export { createKeyAudited } from "./keys";
export { type AuditEntry, type AuditRow, appendAudit } from "./queries";
export { type AuditQueryInput, readAudit } from "./read";
export { auditRetention, retentionAudit } from "./retention";
export { auditRoute } from "./routes";
