import type { Context } from "hono";
import { Hono } from "hono";
import { type AuditQueryInput, type AuditRow, readAudit } from "~/features/audit";
import { apiError } from "~/lib/api-error";
import { AppError, describeError } from "~/lib/errors";
import { auditCsv, csvDownload } from "../csv";
import type { DashboardEnv } from "../env";
import { AuditPage } from "../pages/audit";
import { render } from "../pages/layout";
import { type Dashboard, queryValue } from "./context";

const ENTRIES_PER_PAGE = 100;
const DEFAULT_SINCE = "7d";

/** The page's and the export's filters, bounded (readAudit checks the action and the time). */
function auditInput(c: Context): AuditQueryInput & { since: string } {
  return { since: queryValue(c, "since", 40) ?? DEFAULT_SINCE, key: queryValue(c, "key", 64), action: queryValue(c, "action", 60) };
}

/** /dashboard/audit (the log, filtered, paged by id) and /dashboard/audit.csv (the same filters, every page). */
export function auditRoutes(d: Dashboard) {
  const { store, now, page, data } = d;
  const app = new Hono<DashboardEnv>();

  app.get("/audit", page, async (c) => {
    const input = auditInput(c);
    const before = Number(c.req.query("before"));
    const beforeId = Number.isSafeInteger(before) && before > 0 ? before : undefined;
    let rows: AuditRow[] = [];
    let error: { message: string; hint?: string } | undefined;
    try {
      rows = await readAudit(store.audit, { ...input, beforeId, limit: ENTRIES_PER_PAGE + 1 }, now());
    } catch (thrown) {
      if (!(thrown instanceof AppError)) throw thrown;
      error = { message: thrown.message, hint: thrown.hint };
    }
    const shown = rows.slice(0, ENTRIES_PER_PAGE);
    const keys = (await store.keys.list(true)).map((k) => k.id);
    if (input.key && !keys.includes(input.key)) keys.push(input.key);
    return render(
      c,
      <AuditPage
        session={c.get("session")}
        rows={shown}
        filter={input}
        keys={keys}
        older={rows.length > ENTRIES_PER_PAGE ? shown.at(-1)?.id : undefined}
        paged={beforeId !== undefined}
        query={new URL(c.req.url).searchParams}
        error={error}
      />,
      error ? 400 : 200,
    );
  });

  app.get("/audit.csv", data, async (c) => {
    const at = now();
    let body: ReadableStream<Uint8Array>;
    try {
      body = await auditCsv(store.audit, auditInput(c), at);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return apiError(c, 400, { message: describeError(error), type: "invalid_request_error", code: "invalid_query" });
    }
    return c.body(body, 200, csvDownload("audit", at));
  });
  return app;
}
