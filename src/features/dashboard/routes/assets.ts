import { Hono } from "hono";
import { assetNamed } from "../assets";
import type { DashboardEnv } from "../env";
import { REFUSALS, refusal } from "../pages/layout";

/** /assets/:name: the dashboard's own script, styles and icon, cached for good (the URL holds the content hash). */
export function assetRoutes() {
  return new Hono<DashboardEnv>().get("/assets/:name", async (c) => {
    const asset = assetNamed(c.req.param("name"));
    if (!asset) return refusal(c, 404, REFUSALS.notFound);
    return c.body(asset.body, 200, { "content-type": asset.type, "cache-control": "public, max-age=31536000, immutable", etag: `"${asset.hash}"` });
  });
}
