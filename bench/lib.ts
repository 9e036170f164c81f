/** Small benchmarking helpers: medians over repeated runs, printed as tables with ratios to a baseline from the same run. */

export interface Row {
  name: string;
  /** Median of the samples, in the unit of the table. */
  median: number;
  /** The sample at the table's tail quantile (p95 unless the table says otherwise). */
  tail: number;
}

export function summarize(name: string, samples: number[], tailQuantile = 0.95): Row {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { name, median: at(0.5), tail: at(tailQuantile) };
}

/** Runs fn in batches and returns per-call nanoseconds, one sample per batch. */
export function perCallNs(fn: () => void, { batches = 30, perBatch = 20_000 } = {}): number[] {
  for (let i = 0; i < perBatch; i++) fn(); // warm-up
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = Bun.nanoseconds();
    for (let i = 0; i < perBatch; i++) fn();
    samples.push((Bun.nanoseconds() - start) / perBatch);
  }
  return samples;
}

const ratio = (r: number) => (r >= 0.1 ? r.toFixed(2) : r.toPrecision(2));

export function printTable(title: string, unit: string, baseline: Row, rows: Row[], tailLabel = "p95"): void {
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
  const lines = [
    `\n### ${title}\n`,
    `| case | median (${unit}) | ${tailLabel} (${unit}) | ratio to baseline |`,
    "| --- | ---: | ---: | ---: |",
    ...[baseline, ...rows].map(
      (r) => `| ${r === baseline ? `${r.name} (baseline)` : r.name} | ${fmt(r.median)} | ${fmt(r.tail)} | ${ratio(r.median / baseline.median)}x |`,
    ),
  ];
  console.log(lines.join("\n"));
}
