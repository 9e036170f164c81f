import type { ArgsDef, CommandDef } from "citty";
import { AppError } from "./errors";

/*
 * citty parses flags with node's parseArgs in non-strict mode: a mistyped flag
 * (`keys create --lable laptop`) is silently ignored and a string flag with no
 * value becomes "". Before citty runs, this walks the same command tree and
 * refuses both, naming the flag and the nearest known one.
 */

type Resolvable<T> = T | Promise<T> | (() => T | Promise<T>);

async function resolve<T>(value: Resolvable<T> | undefined): Promise<T | undefined> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

/** Every spelling citty accepts for a command's flags, and which of them take a value. */
function knownFlags(args: ArgsDef): { names: Set<string>; takesValue: Set<string>; canonical: string[] } {
  const names = new Set(["help", "h", "version", "v"]);
  const takesValue = new Set<string>();
  const canonical: string[] = [];
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const alias = "alias" in def ? def.alias : undefined;
    const aliases = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias];
    const spellings = [name, kebab(name), camel(name), ...aliases];
    for (const s of spellings) {
      names.add(s);
      if (def.type !== "boolean") takesValue.add(s);
      if (def.type === "boolean") names.add(`no-${s}`);
    }
    canonical.push(name);
    if (def.type === "boolean" && def.default === true) canonical.push(`no-${name}`);
  }
  return { names, takesValue, canonical };
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

function nearest(name: string, candidates: string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const candidate of candidates) {
    const d = distance(name, candidate);
    if (!best || d < best.d) best = { name: candidate, d };
  }
  return best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

/** A value after a flag: anything but another flag (a negative number is a value). */
const isValue = (token: string | undefined) => token !== undefined && (!token.startsWith("-") || /^-\d/.test(token));

function checkTokens(tokens: string[], args: ArgsDef, commandLine: string): void {
  const { names, takesValue, canonical } = knownFlags(args);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === "--") return;
    if (!token.startsWith("-") || token === "-" || /^-\d/.test(token)) continue;
    const [flag, inline] = token.replace(/^--?/, "").split(/=(.*)/s, 2) as [string, string | undefined];
    const shown = `${token.startsWith("--") ? "--" : "-"}${flag}`;
    if (!names.has(flag)) {
      const guess = nearest(flag, canonical);
      throw new AppError(
        `unknown flag ${shown} for \`${commandLine}\``,
        `${guess ? `did you mean --${guess}? ` : ""}\`${commandLine} --help\` lists the flags it takes`,
      );
    }
    if (!takesValue.has(flag) || inline !== undefined) continue;
    if (!isValue(tokens[i + 1])) throw new AppError(`${shown} needs a value`, `write it as ${shown} VALUE (see \`${commandLine} --help\`)`);
    i++;
  }
}

/**
 * Refuses unknown flags and string flags without a value anywhere in `argv`
 * for the command tree rooted at `root`, the way citty would route it.
 */
export async function checkFlags(root: CommandDef, argv: string[], name = "copilot-api", { commands = false } = {}): Promise<void> {
  const args = (await resolve(root.args as Resolvable<ArgsDef>)) ?? {};
  const subCommands = await resolve(root.subCommands as Resolvable<Record<string, Resolvable<CommandDef>>> | undefined);
  const at = subCommands ? argv.findIndex((token) => !token.startsWith("-")) : -1;
  // A command may be loaded on first use (src/commands.ts): only the one named is loaded.
  const sub = at >= 0 ? await resolve(subCommands?.[argv[at]!]) : undefined;
  // At run time an unknown command is citty's to report; `commands` checks it here too (the docs test).
  if (commands && subCommands && at >= 0 && !sub) {
    throw new AppError(`unknown command \`${name} ${argv[at]}\``, `\`${name}\` has: ${Object.keys(subCommands).join(", ")}`);
  }
  checkTokens(at >= 0 ? argv.slice(0, at) : argv, args, name);
  if (sub) await checkFlags(sub, argv.slice(at + 1), `${name} ${argv[at]}`, { commands });
}
