import { formatWithOptions } from "node:util";
import { type LogReporter, log } from "~/lib/log";

const captures = new Set<{ lines: string[] }>();
let saved: LogReporter[] | undefined;

/** One line as the log writes it to a child's stderr under bun test: `[type] message`. */
const capturing: LogReporter = {
  log(entry) {
    const line = `[${entry.type}] ${formatWithOptions({ colors: false }, ...entry.args)}\n`;
    for (const capture of captures) capture.lines.push(line);
  },
};

/**
 * The app's log (src/lib/log.ts) read in-process: from now until release(),
 * every line goes here instead of stderr, as a child's stderr would hold it.
 * Several captures at once each get every line (a test file's servers share one log).
 */
export function captureLog(): { text: () => string; release: () => void } {
  const capture = { lines: [] as string[] };
  if (captures.size === 0) {
    saved = log.options.reporters;
    log.setReporters([capturing]);
  }
  captures.add(capture);
  return {
    text: () => capture.lines.join(""),
    release: () => {
      if (!captures.delete(capture) || captures.size > 0) return;
      if (saved) log.setReporters(saved);
    },
  };
}
