import { Hono } from "hono";
import type { AppEnv } from "~/app-env";
import { requireAdmin } from "~/features/keys";
import { apiError } from "~/lib/api-error";
import { AppError, describeError } from "~/lib/errors";
import type { AuditLog } from "./queries";
import { auditJson, readAudit } from "./read";

/** GET /admin/audit?since=7d&key=key_…&action=key.revoked&limit=100&before=ID: newest first, admin keys only. */
export function auditRoute(audit: () => Promise<AuditLog>) {
  return new Hono<AppEnv>().get("/audit", requireAdmin, async (c) => {
    const limit = Number(c.req.query("limit") ?? 1000);
    const before = Number(c.req.query("before"));
    try {
      const rows = await readAudit(
        await audit(),
        {
          since: c.req.query("since"),
          key: c.req.query("key"),
          action: c.req.query("action"),
          limit: Number.isFinite(limit) ? limit : 1000,
          beforeId: Number.isSafeInteger(before) && before > 0 ? before : undefined,
        },
        Date.now(),
      );
      return c.json({ entries: rows.map(auditJson) });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return apiError(c, 400, { message: describeError(error), type: "invalid_request_error", code: "invalid_query" });
    }
  });
}
