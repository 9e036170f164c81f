// copilot-api dashboard: progressive enhancement only. The pages work without
// it (tables, filters, forms); it draws the charts, copies a new secret, and
// applies a filter as soon as it changes. Loaded from /dashboard/assets (CSP: script-src 'self').
(() => {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form?.submit());
  }

  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy)?.textContent ?? "";
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch {
        // No clipboard access (plain http on another host): select the text for a manual copy.
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(button.dataset.copy));
        getSelection()?.removeAllRanges();
        getSelection()?.addRange(range);
        button.textContent = "Press Ctrl+C";
      }
    });
  }

  const charts = document.getElementById("charts");
  if (!charts || typeof uPlot === "undefined") return;

  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const PALETTE = ["#2f6fde", "#d9480f", "#2b8a3e", "#9c36b5", "#e8590c"];

  // Counts per hour or day draw as bars: a lone busy bucket is a bar, not a ramp up
  // from the idle buckets beside it. An overlay shares its base's slot (errors are
  // part of requests, cached tokens part of prompt tokens); a narrow bar sits in front.
  const WIDE = 0.7;
  const NARROW = 0.3;
  const CHARTS = {
    requests: [
      ["requests", "Requests", PALETTE[0], WIDE],
      ["errors", "Errors", PALETTE[1], WIDE],
    ],
    tokens: [
      ["promptTokens", "Prompt", PALETTE[0], WIDE],
      ["cacheReadTokens", "Cached (of prompt)", PALETTE[3], WIDE],
      ["completionTokens", "Completion", PALETTE[2], NARROW],
    ],
    credits: [["credits", "AI credits", PALETTE[2], WIDE]],
    premium: [["premiumRequests", "Premium requests (legacy)", PALETTE[4], WIDE]],
    // Latency is a line (empty buckets are gaps, not zeros); a value with no neighbour gets its point.
    latency: [
      ["p50LatencyMs", "p50 ≤ ms", PALETTE[0]],
      ["p95LatencyMs", "p95 ≤ ms", PALETTE[1]],
    ],
  };

  const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

  /** The indices of values with no value on either side: a line alone would draw nothing there. */
  const lonely = (values) => values.flatMap((v, i) => (v != null && values[i - 1] == null && values[i + 1] == null ? [i] : []));

  function seriesOf(series, [key, label, stroke, barSize]) {
    if (barSize) {
      return { label, stroke, fill: `${stroke}b3`, width: 0, paths: uPlot.paths.bars({ size: [barSize, 64], align: 0 }), points: { show: false } };
    }
    const isolated = lonely(series[key]);
    return {
      label,
      stroke,
      width: 2,
      spanGaps: false,
      points: { show: series.t.length <= 48, size: 6, filter: (_u, _i, shown) => (shown ? null : isolated) },
    };
  }

  function draw(series) {
    const plots = [];
    const daily = series.step === "day";
    const half = (daily ? 86_400 : 3_600) / 2;
    for (const el of charts.querySelectorAll("[data-chart]")) {
      const lines = CHARTS[el.dataset.chart];
      if (!lines) continue;
      const axis = { stroke: color("--muted"), grid: { stroke: color("--line"), width: 1 }, ticks: { stroke: color("--line"), width: 1 } };
      const options = {
        width: Math.max(260, el.clientWidth),
        height: 220,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        // Half a bucket of room at each end, so the first and last bars are whole.
        scales: {
          x: { time: true, range: (_u, min, max) => [min - half, max + half] },
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        },
        axes: [axis, { ...axis, size: 52, values: (_u, ticks) => ticks.map((v) => compact.format(v)) }],
        series: [
          { label: daily ? "UTC day" : "UTC hour", value: daily ? "{YYYY}-{MM}-{DD}" : "{YYYY}-{MM}-{DD} {HH}:00" },
          ...lines.map((line) => seriesOf(series, line)),
        ],
        legend: { live: true },
      };
      const data = [series.t, ...lines.map(([key]) => series[key])];
      plots.push([el, new uPlot(options, data, el)]);
      // What was drawn, for people and tests: the points, their total, bars or lines.
      el.dataset.points = String(series.t.length);
      el.dataset.total = String(lines.reduce((sum, [key]) => sum + series[key].reduce((s, v) => s + (v ?? 0), 0), 0));
      el.dataset.kind = lines[0][3] ? "bars" : "lines";
    }
    const resize = () => {
      for (const [el, plot] of plots) plot.setSize({ width: Math.max(260, el.clientWidth), height: 220 });
    };
    new ResizeObserver(resize).observe(charts);
  }

  fetch(charts.dataset.series, { credentials: "same-origin", headers: { accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
    .then((body) => draw(body.series))
    .catch((error) => {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = `The charts could not be loaded (${error.message}): reload the page; if it persists, sign in again.`;
      charts.prepend(p);
    });
})();
