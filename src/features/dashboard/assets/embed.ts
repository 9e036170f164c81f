import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Imported as a Bun macro (like the migrations, src/db/migrations/embedded.ts):
 * it runs when the code is transpiled or bundled and its result is inlined, so
 * `bun run`, `bun build` and `bun build --compile` all serve the same files
 * with nothing to find on disk and no CDN at run time.
 */
export function embeddedAssets(): Record<string, string> {
  const uplot = dirname(Bun.fileURLToPath(import.meta.resolve("uplot/dist/uPlot.iife.min.js")));
  return {
    "dashboard.js": readFileSync(join(import.meta.dir, "dashboard.js"), "utf8"),
    "dashboard.css": readFileSync(join(import.meta.dir, "dashboard.css"), "utf8"),
    "icon.svg": readFileSync(join(import.meta.dir, "icon.svg"), "utf8"),
    "uplot.js": readFileSync(join(uplot, "uPlot.iife.min.js"), "utf8"),
    "uplot.css": readFileSync(join(uplot, "uPlot.min.css"), "utf8"),
  };
}
