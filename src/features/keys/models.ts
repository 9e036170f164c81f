import { AppError } from "~/lib/errors";

const ENTRY = /^[A-Za-z0-9._:/@+*?-]+$/;

/** Parses `--models a,b,claude-*` into a list, refusing empty or malformed entries by name. */
export function parseModelList(value: string): string[] {
  const entries = value.split(",").map((m) => m.trim());
  if (entries.length === 0 || entries.every((m) => m === "")) {
    throw new AppError("--models is empty", "list model names or patterns, e.g. --models gpt-4o,claude-*  (omit it to allow every model)");
  }
  for (const entry of entries) {
    if (entry === "") throw new AppError(`--models ${value} has an empty entry`, "remove the stray comma");
    if (!ENTRY.test(entry)) {
      throw new AppError(`--models entry "${entry}" is not a model name or pattern`, "use letters, digits and . _ : / @ + -, with * or ? as wildcards");
    }
  }
  return [...new Set(entries)];
}

/** A matcher for a key's allowed models: exact names and globs (* any run, ? one character). */
export function modelMatcher(patterns: string[]): (model: string) => boolean {
  if (patterns.includes("*")) return () => true;
  const exact = new Set(patterns.filter((p) => !/[*?]/.test(p)));
  const globs = patterns
    .filter((p) => /[*?]/.test(p))
    .map(
      (p) =>
        new RegExp(
          `^${p
            .replace(/[.+^${}()|[\]\\/]/g, "\\$&")
            .replace(/\*/g, ".*")
            .replace(/\?/g, ".")}$`,
        ),
    );
  return (model) => exact.has(model) || globs.some((g) => g.test(model));
}
