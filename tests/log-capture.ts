import { AsyncLocalStorage } from "node:async_hooks";
import { formatWithOptions } from "node:util";
import type { ConsolaReporter } from "consola";
import { log } from "~/lib/log";

const captures = new Set<{ lines: string[] }>();
let saved: { reporters: ConsolaReporter[]; throttle: number | undefined } | undefined;
/** The lines of the in-process command running in this async context (see captureLogWithin). */
const own = new AsyncLocalStorage<string[]>();

/** One line as consola's basic reporter writes it to a child's stderr: `[type] message`. */
const capturing: ConsolaReporter = {
  log(entry) {
    const line = `[${entry.type}] ${formatWithOptions({ colors: false }, ...entry.args)}\n`;
    const lines = own.getStore();
    if (lines) lines.push(line);
    else for (const capture of captures) capture.lines.push(line);
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
    saved = { reporters: log.options.reporters, throttle: log.options.throttle };
    log.setReporters([capturing]);
    // consola folds a line repeated more than 5 times (counted across the whole process): a child's log starts afresh.
    log.options.throttle = 0;
  }
  captures.add(capture);
  return {
    text: () => capture.lines.join(""),
    release: () => {
      if (!captures.delete(capture) || captures.size > 0) return;
      if (!saved) return;
      log.setReporters(saved.reporters);
      log.options.throttle = saved.throttle ?? 1000;
    },
  };
}

/**
 * Runs fn with the log lines it writes kept apart, as a child process's own
 * stderr would hold them: a server of the same test file does not see them, and
 * they do not see the server's.
 */
export async function captureLogWithin<T>(fn: () => Promise<T>): Promise<{ result: T; text: string }> {
  const lines: string[] = [];
  const capture = captureLog();
  try {
    const result = await own.run(lines, fn);
    return { result, text: lines.join("") };
  } finally {
    capture.release();
  }
}
