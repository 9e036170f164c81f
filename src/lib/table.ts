/**
 * A plain-text table for the CLI: columns as wide as their widest cell, two
 * spaces apart. The first column is left-aligned; the others too unless
 * `numeric` (right-aligned, so digits line up).
 */
export function textTable(header: string[], rows: string[][], options: { numeric?: boolean } = {}): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i > 0 && options.numeric ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [header, ...rows].map(line).join("\n");
}
