import { AUDIT_ACTIONS, type AuditAction } from "~/db/schema";
import { AppError } from "~/lib/errors";
import { parseSince } from "~/lib/since";
import type { AuditLog, AuditRow } from "./queries";

/** The filters every reader takes (CLI flags, /admin/audit query, dashboard form), still as text. */
export interface AuditQueryInput {
  since?: string;
  key?: string;
  action?: string;
  limit?: number;
  beforeId?: number;
}

/** Reads the log with checked filters: an unknown action or a bad time is refused with the remedy. `as` spells the parameter for the error. */
export async function readAudit(log: AuditLog, input: AuditQueryInput, now: number, as: "since=" | "--since " = "since="): Promise<AuditRow[]> {
  const action = input.action || undefined;
  if (action !== undefined && !(AUDIT_ACTIONS as readonly string[]).includes(action)) {
    throw new AppError(`action ${action.slice(0, 60)} is not an audit action`, `use one of ${AUDIT_ACTIONS.join(", ")}`);
  }
  return log.list({
    since: input.since ? parseSince(input.since, now, as) : undefined,
    keyId: input.key ? input.key.slice(0, 64) : undefined,
    action: action as AuditAction | undefined,
    beforeId: input.beforeId,
    limit: Math.min(Math.max(input.limit ?? 1000, 1), 10_000),
  });
}

/** An entry as JSON readers get it: the time in ISO as well. */
export const auditJson = (row: AuditRow) => ({ ...row, time: new Date(row.ts).toISOString() });
