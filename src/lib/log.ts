import { formatWithOptions } from "node:util";

/*
 * The app's log: a few lines to stderr, so that `--json` output on stdout stays
 * machine-readable. Our own rather than consola, which cost a plain start as much
 * to load as the whole request schema library; the lines look as consola's did.
 */

type LogType = "error" | "warn" | "info" | "success" | "box";

/** One log call: its type and what it was given (formatted as console.log would). */
export interface LogEntry {
  type: LogType;
  args: unknown[];
}

/** Where log lines go: stderr by default; tests read them in-process (tests/log-capture.ts). */
export interface LogReporter {
  log(entry: LogEntry): void;
}

/** consola's levels: errors at 0, warnings at 1, the rest at 3; `level` shows what is at or below it. */
const LEVELS: Record<LogType, number> = { error: 0, warn: 1, info: 3, success: 3, box: 3 };

/** A box around a line, for what the user must not miss (the device-flow code). */
function boxed(text: string): string {
  const width = Math.max(...text.split("\n").map((line) => line.length)) + 4;
  const pad = (line: string) => ` │  ${line.padEnd(width - 4)}  │`;
  return ["", ` ╭${"─".repeat(width)}╮`, pad(""), ...text.split("\n").map(pad), pad(""), ` ╰${"─".repeat(width)}╯`, ""].join("\n");
}

/** A line as consola wrote it to a terminal (and bun test's children: `[type] message`, as its basic reporter did). */
function line(entry: LogEntry, basic: boolean): string {
  const text = formatWithOptions({ colors: false }, ...entry.args);
  if (basic) return `[${entry.type}] ${text}\n`;
  switch (entry.type) {
    case "info":
      return `ℹ ${text}\n`;
    case "success":
      return `✔ ${text}\n`;
    case "warn":
      return `\n WARN  ${text}\n\n`;
    case "error":
      return `\n ERROR  ${text}\n\n`;
    case "box":
      return `${boxed(text)}\n`;
  }
}

const stderrReporter: LogReporter = {
  log: (entry) => process.stderr.write(line(entry, process.env.NODE_ENV === "test")),
};

class Log {
  /** consola would go quiet under NODE_ENV=test; the boot log is part of what users see: 3 shows everything. */
  level = 3;
  readonly options: { reporters: LogReporter[] } = { reporters: [stderrReporter] };

  setReporters(reporters: LogReporter[]): void {
    this.options.reporters = reporters;
  }

  error = (...args: unknown[]) => this.emit("error", args);
  warn = (...args: unknown[]) => this.emit("warn", args);
  info = (...args: unknown[]) => this.emit("info", args);
  success = (...args: unknown[]) => this.emit("success", args);
  box = (...args: unknown[]) => this.emit("box", args);

  private emit(type: LogType, args: unknown[]): void {
    if (LEVELS[type] > this.level) return;
    for (const reporter of this.options.reporters) reporter.log({ type, args });
  }
}

export const log = new Log();
