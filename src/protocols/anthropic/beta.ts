/**
 * The `anthropic-beta` values passed on to Copilot's native /v1/messages. Copilot answers 400
 * "unsupported beta header(s)" to flags it has not implemented (`context-1m-2025-08-07`, which
 * Claude Code sends, is one), so only flags known to be accepted go through: the ones the
 * maintained Copilot gateways forward (caozhiyuan/copilot-api's allow-list: interleaved
 * thinking, context management, advanced tool use; HXYerror/copilot-api-pro also sends
 * prompt caching and the one-hour cache TTL). Everything else is dropped, silently: the
 * request still works, without that beta.
 */
export const COPILOT_BETAS: ReadonlySet<string> = new Set([
  "interleaved-thinking-2025-05-14",
  "context-management-2025-06-27",
  "advanced-tool-use-2025-11-20",
  "prompt-caching-2024-07-31",
  "extended-cache-ttl-2025-04-11",
]);

/** The client's `anthropic-beta` header reduced to the flags Copilot accepts (each once, in order), or undefined when none is left. */
export function copilotBetas(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const kept = new Set<string>();
  for (const flag of header.split(",")) {
    const name = flag.trim();
    if (COPILOT_BETAS.has(name)) kept.add(name);
  }
  return kept.size > 0 ? [...kept].join(",") : undefined;
}
