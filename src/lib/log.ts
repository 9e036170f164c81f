import { type ConsolaReporter, createConsola, type LogObject } from "consola/core";

/*
 * The app's log: consola's core (levels, types, reporters) with one small reporter of ours.
 * consola's default entry also loads its fancy reporter (string widths, colours, boxes), which
 * cost a plain start as much to load as the whole request schema library; the lines below
 * look as that reporter wrote them.
 */

/** Where log lines go: stderr by default; tests read them in-process (tests/log-capture.ts). */
export type LogReporter = ConsolaReporter;

/** A box around a line, for what the user must not miss (the device-flow code). */
function boxed(text: string): string {
  const width = Math.max(...text.split("\n").map((line) => line.length)) + 4;
  const pad = (line: string) => ` │  ${line.padEnd(width - 4)}  │`;
  return ["", ` ╭${"─".repeat(width)}╮`, pad(""), ...text.split("\n").map(pad), pad(""), ` ╰${"─".repeat(width)}╯`, ""].join("\n");
}

/**
 * The args as console.log would print them. A lone string (nearly every line) is itself, as node:util's
 * format leaves it; node:util is required only for anything else, so a boot does not load it.
 */
function format(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  const { formatWithOptions } = require("node:util") as typeof import("node:util");
  return formatWithOptions({ colors: false }, ...args);
}

/** A line as consola wrote it to a terminal (and to bun test's children: `[type] message`, as its basic reporter did). */
function line(entry: LogObject, basic: boolean): string {
  const text = format(entry.args);
  if (basic) return `[${entry.type}] ${text}\n`;
  switch (entry.type) {
    case "success":
      return `✔ ${text}\n`;
    case "warn":
      return `\n WARN  ${text}\n\n`;
    case "error":
      return `\n ERROR  ${text}\n\n`;
    case "box":
      return `${boxed(text)}\n`;
    default:
      return `ℹ ${text}\n`;
  }
}

// Everything goes to stderr so that `--json` output on stdout stays machine-readable.
const stderrReporter: LogReporter = {
  log: (entry) => process.stderr.write(line(entry, process.env.NODE_ENV === "test")),
};

// consola would go quiet under NODE_ENV=test; the boot log is part of what users see: 3 shows everything.
export const log = createConsola({ level: 3, reporters: [stderrReporter], formatOptions: { date: false } });
