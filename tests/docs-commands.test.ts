// The docs cannot drift from the CLI: every command line in the README's and docs'
// shell blocks (and every inline `copilot-api …` span) names a command that exists
// and only flags that command takes, checked against the same command tree and the
// same strict-flag check that `copilot-api` itself runs.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "~/commands";
import { AppError } from "~/lib/errors";
import { checkFlags } from "~/lib/strict-flags";
import { ROOT } from "./helpers";

const DOCS = [
  "README.md",
  "CONTRIBUTING.md",
  ...readdirSync(join(ROOT, "docs"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** The ways a user or contributor spells the program, where a command starts (a line, `&&`, `;`, `|`, `$(`); what follows is the command line. */
const PROGRAM =
  /(?:^\s*|(?:&&|\|\||;|\||\$\()\s*)(?:npx(?: --yes)? copilot-api-gateway(?:@\S+)?|copilot-api|bun run cli|bun run src\/main\.ts)((?:\s+[^\s|;&)>#`"]+)*)/g;

/** Top-level command names: a table row of the docs starting with one of them is a command line too. */
const COMMANDS = Object.keys(main.subCommands as Record<string, unknown>);

/** Command lines in ```sh / ```bash / ```console blocks, inline code spans, and command tables' first cells. */
function commandLines(markdown: string): string[] {
  const lines: string[] = [];
  for (const block of markdown.matchAll(/```(?:sh|bash|console|shell)\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.split("\n")) lines.push(...programCalls(line.replace(/^\$ /, "")));
  }
  for (const span of markdown.matchAll(/`([^`\n]+)`/g)) if (/^(?:npx |copilot-api |bun run cli )/.test(span[1]!)) lines.push(...programCalls(span[1]!));
  for (const row of markdown.matchAll(/^\| `([a-z-]+)((?: [^`]*)?)`/gm)) if (COMMANDS.includes(row[1]!)) lines.push(`${row[1]}${row[2]}`);
  return lines;
}

function programCalls(line: string): string[] {
  // "bun run cli …" stands for any command: nothing to check.
  return [...line.matchAll(PROGRAM)].map((m) => m[1]!.trim()).filter((rest) => rest.length > 0 && rest !== "…" && !rest.startsWith("<"));
}

/** A doc's placeholders (`ID`, `[--json]`, `a|b`) read as the user would type them. */
function argv(rest: string): string[] {
  return rest
    .replace(/\[([^\]]*)\]/g, "$1")
    .split(/\s+/)
    .filter((token) => token && !/^<.*>?$/.test(token))
    .map((token) => (token === "…" ? "VALUE" : token))
    .map((token) => token.split("\\|")[0]!.split("|")[0]!);
}

async function problem(rest: string): Promise<string | undefined> {
  try {
    await checkFlags(main, argv(rest), "copilot-api", { commands: true });
    return undefined;
  } catch (error) {
    if (error instanceof AppError) return `${error.message} (${error.hint})`;
    throw error;
  }
}

describe("command lines in the docs exist", () => {
  test("the extractor finds commands in blocks and spans, and the check refuses a wrong one", async () => {
    const sample =
      "```sh\nnpx copilot-api-gateway keys create --label laptop   # note\nbun run cli usage --by model | head\n```\nUse `copilot-api keys lsit` or `copilot-api start --prot 1`.\n| `db backup [--out FILE]` | … |";
    expect(commandLines(sample)).toEqual(["keys create --label laptop", "usage --by model", "keys lsit", "start --prot 1", "db backup [--out FILE]"]);
    expect(await problem("keys create --label laptop")).toBeUndefined();
    expect(await problem("keys lsit")).toContain("unknown command `copilot-api keys lsit`");
    expect(await problem("start --prot 1")).toContain("did you mean --port?");
  });

  for (const doc of DOCS) {
    test(doc, async () => {
      const lines = commandLines(readFileSync(join(ROOT, doc), "utf8"));
      const problems: string[] = [];
      for (const line of lines) {
        const found = await problem(line);
        if (found) problems.push(`${line}: ${found}`);
      }
      expect(problems).toEqual([]);
    });
  }

  test("the README names at least the quick start's commands", () => {
    const lines = commandLines(readFileSync(join(ROOT, "README.md"), "utf8"));
    expect(lines).toEqual(expect.arrayContaining(["start", "auth", "keys create --label laptop"]));
  });
});
