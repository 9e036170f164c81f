/** The audit feature's public face: append an admin action, read the log (CLI, /admin/audit, dashboard). */
export { type AuditActor, cliActor, GATEWAY_ACTOR, httpActor } from "./actors";
export { createKeyAudited, type KeyAdmin, sqliteKeyAdmin } from "./keys";
export { type AuditEntry, type AuditLog, type AuditRow, appendAudit, sqliteAuditLog } from "./queries";
export { type AuditQueryInput, readAudit } from "./read";
export { auditRetention, retentionAudit } from "./retention";
export { auditRoute } from "./routes";

/** The audit log on PostgreSQL: loaded only when asked for (a gateway on SQLite never loads the driver). */
export const auditPg = () => import("./pg");
