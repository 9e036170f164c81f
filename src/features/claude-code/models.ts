import { type CatalogEntry, isClaude } from "~/upstream/model-catalog";

/** Which Claude models Claude Code is pointed at: its main model and its small, fast one (background tasks, titles). */
export interface ClaudeCodeModels {
  main: string;
  small: string;
}

const FAMILY = /^claude-(?:(sonnet|opus|haiku)-(\d+)(?:\.(\d+))?|(\d+)(?:\.(\d+))?-(sonnet|opus|haiku))(?:$|-)/;

interface Parsed {
  id: string;
  family: string;
  version: [number, number];
}

function parse(entry: CatalogEntry): Parsed | undefined {
  const m = FAMILY.exec(entry.id.toLowerCase());
  if (!m) return undefined;
  const family = m[1] ?? m[6]!;
  const major = Number(m[2] ?? m[4]);
  const minor = Number(m[3] ?? m[5] ?? 0);
  return { id: entry.id, family, version: [major, minor] };
}

/** A model the plan offers for use now: a Claude chat model in the picker, not waiting to be enabled in the Copilot settings. */
const usable = (entry: CatalogEntry) => isClaude(entry) && entry.model_picker_enabled !== false && (entry.policy?.state ?? "enabled") === "enabled";

function newest(models: Parsed[], family: string): string | undefined {
  return models
    .filter((m) => m.family === family)
    .sort((a, b) => b.version[0] - a.version[0] || b.version[1] - a.version[1])
    .at(0)?.id;
}

/**
 * The catalog's choice for Claude Code: the newest Sonnet as the main model (Opus costs many
 * premium requests, so only when there is no Sonnet), the newest Haiku as the small one
 * (the main model when the plan has none). Undefined when the plan has no usable Claude model.
 */
export function pickClaudeModels(entries: readonly CatalogEntry[]): ClaudeCodeModels | undefined {
  const claude = entries.filter(usable);
  const parsed = claude.map(parse).filter((m): m is Parsed => m !== undefined);
  const main = newest(parsed, "sonnet") ?? newest(parsed, "opus") ?? claude[0]?.id;
  if (!main) return undefined;
  return { main, small: newest(parsed, "haiku") ?? main };
}

/**
 * A catalog id as Claude Code knows it: Anthropic's dashed spelling (`claude-sonnet-4.5` →
 * `claude-sonnet-4-5`), which the gateway resolves back to the id. Claude Code misreads a dotted
 * version and warns on every run that the model was retired. The id itself when the dashed name
 * would not resolve to it.
 */
export function claudeCodeName(id: string, resolve: (name: string) => string | undefined): string {
  const dashed = id.replace(/(\d)\.(\d)/g, "$1-$2");
  return dashed !== id && resolve(dashed) === id ? dashed : id;
}
