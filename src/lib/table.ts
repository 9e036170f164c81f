/** C0 and C1 control characters (ESC, CR, BEL, CSI…): in a cell they would drive the terminal, not be shown. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** A cell as text only: a client-chosen model name cannot clear the admin's screen or forge lines. */
const printable = (cell: string) => cell.replace(CONTROL, "\uFFFD");

/**
 * A plain-text table for the CLI: columns as wide as their widest cell, two
 * spaces apart. The first column is left-aligned; the others too unless
 * `numeric` (right-aligned, so digits line up). Control characters in cells
 * are shown as U+FFFD.
 */
export function textTable(header: string[], rows: string[][], options: { numeric?: boolean } = {}): string {
  rows = rows.map((row) => row.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i > 0 && options.numeric ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [header, ...rows].map(line).join("\n");
}
