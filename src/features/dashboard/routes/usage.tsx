import type { Context } from "hono";
import { Hono } from "hono";
import { type QuotaSource, windowsReport } from "~/features/quota";
import { describeError } from "~/lib/errors";
import { parseSince } from "~/lib/since";
import type { DashboardEnv } from "../env";
import { render } from "../pages/layout";
import { type QuotaState, SORTABLE, type Sort, UsagePage } from "../pages/usage";
import { DEFAULT_WINDOW, usageSeries, usageTables, WINDOWS, type WindowName } from "../queries";
import { type Dashboard, queryValue } from "./context";

const isWindow = (value: string | undefined): value is WindowName => value !== undefined && Object.hasOwn(WINDOWS, value);

function sortOf(value: string | undefined): Sort {
  const descending = value?.startsWith("-") ?? true;
  const column = value?.replace(/^-/, "");
  return (SORTABLE as readonly string[]).includes(column ?? "") ? { column: column as Sort["column"], descending } : { column: "requests", descending: true };
}

/** The window and filters of a usage request, from its query (unknown values fall back to the defaults). */
function usageInput(c: Context, now: number) {
  const window = isWindow(c.req.query("window")) ? (c.req.query("window") as WindowName) : DEFAULT_WINDOW;
  return {
    window,
    step: WINDOWS[window].step,
    // The window's start as `usage --since` and /admin/usage?since= read the same words.
    since: parseSince(window, now),
    until: now,
    keyId: queryValue(c, "key", 64),
    model: c.req.query("model") === undefined ? undefined : queryValue(c, "model"),
  };
}

/** Copilot's counters, waited for at most 1.5 s so a slow GitHub never holds the page. */
async function quotaState(source: QuotaSource | undefined): Promise<QuotaState> {
  if (!source) return { kind: "none" };
  try {
    const report = await Promise.race([source.get(), Bun.sleep(1500).then(() => undefined)]);
    if (report === undefined) return { kind: "error", message: "GitHub did not answer within 1.5 s; reload the page in a moment" };
    return { kind: "ok", report };
  } catch (error) {
    return { kind: "error", message: describeError(error) };
  }
}

/** The usage page (/dashboard) and its charts' data (/dashboard/api/usage). */
export function usageRoutes(d: Dashboard) {
  const { now } = d;
  const { usage } = d.store;
  const app = new Hono<DashboardEnv>();

  app.get("/", d.page, async (c) => {
    const input = usageInput(c, now());
    const tables = usageTables(await usage.window(input, input.until), input);
    if (input.keyId && !tables.keysSeen.includes(input.keyId)) tables.keysSeen.push(input.keyId);
    if (input.model !== undefined && !tables.modelsSeen.includes(input.model)) tables.modelsSeen.push(input.model);
    const labels = await usage.labels("key");
    return render(
      c,
      <UsagePage
        session={c.get("session")}
        window={input.window}
        keyId={input.keyId}
        model={input.model}
        since={input.since}
        until={input.until}
        tables={tables}
        labels={labels}
        keySort={sortOf(c.req.query("ks"))}
        modelSort={sortOf(c.req.query("ms"))}
        quota={await quotaState(d.deps.quota)}
        windows={windowsReport(d.deps.windows ?? (() => []))}
        query={new URL(c.req.url).searchParams}
      />,
    );
  });

  // The charts' data: the same window and filters as the page, by hour or UTC day.
  app.get("/api/usage", d.data, async (c) => {
    const input = usageInput(c, now());
    const series = usageSeries(await usage.window(input, input.until), input);
    return c.json({
      window: input.window,
      since: new Date(input.since).toISOString(),
      until: new Date(input.until).toISOString(),
      key: input.keyId ?? null,
      model: input.model ?? null,
      series,
    });
  });
  return app;
}
