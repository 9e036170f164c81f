/**
 * `bun run e2e:agents`: the real coding agents (Claude Code and Codex CLI, pinned, from npm)
 * run headless against copilot-api, which runs as a real child process on a temporary store
 * in front of the fake Copilot (tests/fake-upstream.ts). Each run checks that the agent exits
 * 0, that the fake's answer reaches the agent's output, and what reached the fake.
 *
 * A capturing proxy sits between the agents and the gateway and keeps every request as sent
 * (secrets redacted); `--capture DIR` writes them there, one JSON file per run.
 *
 * Needs: npm (and the registry) the first time, to install the agents into .cache/agents/
 * (reused afterwards while the pinned versions match). No internet otherwise: the agents are
 * told not to phone home, and each has its own temporary HOME and config folder.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startGateway } from "../bench/gateway";
import { FAKE_SHELL_OUTPUT, TEXT_ONLY } from "../tests/fake-answers";
import { FAKE_SEARCH_SOURCES, type FakeUpstream, type Recorded, startFakeUpstream } from "../tests/fake-upstream";

const ROOT = join(import.meta.dir, "..");
const CACHE = join(ROOT, ".cache", "agents");

/** The agents as npm ships them; bump here. Claude Code's native binary comes in an optional per-platform package. */
export const AGENTS = { "@anthropic-ai/claude-code": "2.1.197", "@openai/codex": "0.171.0" } as const;

/** A run's time limit: the agents answer from a local fake, so a hung agent is a failure, not a slow network. */
const RUN_TIMEOUT_MS = 90_000;

interface Captured {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

interface Run {
  name: string;
  agent: "claude" | "codex";
  model: string;
  prompt: string;
  /** Text of the fake's answer that the agent must print. */
  expect: string;
  /** What must have reached the fake: the Copilot path, and a check of the requests. */
  upstreamPath: string;
  check?: (sent: Recorded[]) => string | undefined;
  /** The agent must not warn about its model (Claude Code's "was retired" on a name it misreads). */
  quiet?: boolean;
}

const version = (pkg: string) => {
  const file = join(CACHE, "node_modules", pkg, "package.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version : undefined;
};

/** Installs the pinned agents into .cache/agents/ unless they are already there. */
function ensureAgents(): void {
  const missing = Object.entries(AGENTS).filter(([pkg, want]) => version(pkg) !== want);
  if (missing.length === 0) return;
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(join(CACHE, "package.json"), JSON.stringify({ private: true, dependencies: AGENTS }, null, 2));
  console.log(`installing ${missing.map(([p, v]) => `${p}@${v}`).join(", ")} into ${CACHE}`);
  const result = Bun.spawnSync(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"], { cwd: CACHE, stdout: "inherit", stderr: "inherit" });
  if (result.exitCode !== 0) throw new Error(`npm install in ${CACHE} failed (exit ${result.exitCode}): check the network and the npm registry, then rerun`);
}

const bin = (name: string) => join(CACHE, "node_modules", ".bin", name);

const SECRET_HEADERS = /^(authorization|x-api-key|cookie|proxy-authorization)$/i;

/** A proxy in front of the gateway that keeps every request (secret headers redacted) under the name of the run in progress. */
function startCapture(target: string) {
  const byRun = new Map<string, Captured[]>();
  let current = "";
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 120,
    async fetch(req) {
      const url = new URL(req.url);
      const text = await req.text();
      const headers = Object.fromEntries([...req.headers].map(([k, v]) => [k, SECRET_HEADERS.test(k) ? "<redacted>" : v]));
      let body: unknown = text;
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {}
      const list = byRun.get(current) ?? [];
      list.push({ method: req.method, path: url.pathname + url.search, headers, body });
      byRun.set(current, list);
      const forwarded = new Headers(req.headers);
      forwarded.delete("host");
      forwarded.delete("content-length");
      const answer = await fetch(target + url.pathname + url.search, { method: req.method, headers: forwarded, body: text === "" ? undefined : text });
      const out = new Headers(answer.headers);
      out.delete("content-encoding");
      out.delete("content-length");
      return new Response(answer.body, { status: answer.status, headers: out });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    byRun,
    begin: (name: string) => (current = name),
    stop: () => server.stop(true),
  };
}

/** The environment of one agent run: its own HOME and config folder, pointed at the gateway, no traffic elsewhere. */
function agentEnv(run: Run, home: string, baseUrl: string, secret: string): Record<string, string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, TERM: "dumb", NO_COLOR: "1", LANG: "C.UTF-8" };
  if (run.agent === "claude") {
    return {
      ...base,
      CLAUDE_CONFIG_DIR: join(home, ".claude"),
      ANTHROPIC_BASE_URL: baseUrl,
      ANTHROPIC_AUTH_TOKEN: secret,
      ANTHROPIC_MODEL: run.model,
      ANTHROPIC_SMALL_FAST_MODEL: run.model,
      ANTHROPIC_DEFAULT_HAIKU_MODEL: run.model,
      DISABLE_TELEMETRY: "1",
      DISABLE_ERROR_REPORTING: "1",
      DISABLE_AUTOUPDATER: "1",
      DISABLE_BUG_COMMAND: "1",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      CLAUDE_CODE_DISABLE_TERMINAL_TITLE: "1",
      IS_SANDBOX: "1",
    };
  }
  const codexHome = join(home, ".codex");
  mkdirSync(codexHome, { recursive: true });
  // Codex's own provider config: the Responses wire API at the gateway, the key from an env var.
  writeFileSync(
    join(codexHome, "config.toml"),
    [
      `model = "${run.model}"`,
      `model_provider = "copilot-api"`,
      "check_for_update_on_startup = false",
      "",
      "[model_providers.copilot-api]",
      `name = "copilot-api"`,
      `base_url = "${baseUrl}/v1"`,
      `env_key = "COPILOT_API_KEY"`,
      `wire_api = "responses"`,
      "",
      "[analytics]",
      "enabled = false",
      "",
      "[feedback]",
      "enabled = false",
      "",
    ].join("\n"),
  );
  return { ...base, CODEX_HOME: codexHome, COPILOT_API_KEY: secret };
}

function agentCommand(run: Run, workdir: string): string[] {
  if (run.agent === "claude") {
    return [bin("claude"), "-p", run.prompt, "--model", run.model, "--dangerously-skip-permissions", "--no-session-persistence"];
  }
  return [bin("codex"), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "-C", workdir, "-m", run.model, run.prompt];
}

const bodies = (sent: Recorded[]) => sent.map((r) => JSON.parse(r.body) as Record<string, unknown>);

/** A tool loop reached the fake: a later request carries the result of the call the fake asked for. */
const toolLoop =
  (resultItem: "function_call_output" | "tool_result" | "tool") =>
  (sent: Recorded[]): string | undefined =>
    bodies(sent).some((b) => JSON.stringify(b.input ?? b.messages ?? []).includes(`"${resultItem}"`))
      ? undefined
      : `no request to the fake carried a ${resultItem}: the tool loop did not come back`;

/** Every check in turn; the first problem. */
const all =
  (...checks: ((sent: Recorded[]) => string | undefined)[]) =>
  (sent: Recorded[]) =>
    checks.map((check) => check(sent)).find((problem) => problem !== undefined);

/** Codex's default web_search tool reached Copilot's /responses as Codex sent it. */
const webSearchForwarded = (sent: Recorded[]) =>
  bodies(sent).some((b) => (b.tools as { type: string }[] | undefined)?.some((t) => t.type === "web_search"))
    ? undefined
    : "Codex's web_search tool did not reach Copilot's /responses";

/** On the translated path Codex's namespace tools reached Copilot's chat as flat functions. */
const namespacesFlattened = (sent: Recorded[]) =>
  bodies(sent).some((b) => (b.tools as { function?: { name: string } }[] | undefined)?.some((t) => t.function?.name.includes("__")))
    ? undefined
    : "no namespace function reached Copilot's chat as a flat function";

/** Turn 2 replayed Codex's reasoning item (sent with `"content": null`) to Copilot untouched. */
const reasoningReplayed = (sent: Recorded[]) =>
  bodies(sent).some(
    (b) => Array.isArray(b.input) && (b.input as { type?: string; content?: unknown }[]).some((i) => i.type === "reasoning" && i.content === null),
  )
    ? undefined
    : "no reasoning item with content null reached Copilot's /responses on turn 2";

/** The gateway ran the search: the search model's /responses got the hosted web_search tool, and no request carried Anthropic's server tool. */
const searchedByGateway = (sent: Recorded[]) => {
  const searches = bodies(sent).filter((b) => (b.tools as { type: string }[] | undefined)?.some((t) => t.type === "web_search"));
  if (searches.length === 0) return "no web search reached Copilot's /responses";
  if (searches.some((b) => b.model !== "gpt-5-mini")) return `the search ran on ${String(searches[0]!.model)}, not the default search model gpt-5-mini`;
  return undefined;
};

const WEB_SEARCH_PROMPT = "Use web search to find the Bun runtime docs, and give me the URL.";

const RUNS: Run[] = [
  {
    name: "claude-hello-native",
    agent: "claude",
    model: "claude-sonnet-4-5",
    prompt: `Say hello. ${TEXT_ONLY}`,
    expect: "Hello from fake Claude",
    upstreamPath: "/v1/messages",
    quiet: true,
  },
  {
    name: "claude-hello-translated",
    agent: "claude",
    model: "claude-sonnet-4",
    prompt: `Say hello. ${TEXT_ONLY}`,
    expect: "Hello from fake Claude",
    upstreamPath: "/chat/completions",
  },
  {
    name: "claude-tool-loop",
    agent: "claude",
    model: "claude-sonnet-4-5",
    prompt: "Run the shell command the fake asks for.",
    expect: `The tool said: ${FAKE_SHELL_OUTPUT}`,
    upstreamPath: "/v1/messages",
    check: toolLoop("tool_result"),
    quiet: true,
  },
  {
    name: "claude-tool-loop-translated",
    agent: "claude",
    model: "claude-sonnet-4",
    prompt: "Run the shell command the fake asks for.",
    expect: `The tool said: ${FAKE_SHELL_OUTPUT}`,
    upstreamPath: "/chat/completions",
    check: toolLoop("tool"),
  },
  {
    name: "claude-web-search-native",
    agent: "claude",
    model: "claude-sonnet-4-5",
    prompt: WEB_SEARCH_PROMPT,
    expect: FAKE_SEARCH_SOURCES[0].url,
    upstreamPath: "/responses",
    check: searchedByGateway,
    quiet: true,
  },
  {
    name: "claude-web-search-translated",
    agent: "claude",
    model: "claude-sonnet-4",
    prompt: WEB_SEARCH_PROMPT,
    expect: FAKE_SEARCH_SOURCES[0].url,
    upstreamPath: "/responses",
    check: searchedByGateway,
  },
  {
    name: "codex-web-search-translated",
    agent: "codex",
    model: "gpt-4.1",
    prompt: WEB_SEARCH_PROMPT,
    expect: FAKE_SEARCH_SOURCES[0].url,
    upstreamPath: "/responses",
    check: searchedByGateway,
  },
  {
    name: "codex-hello-native",
    agent: "codex",
    model: "gpt-5-mini",
    prompt: `Say hello. ${TEXT_ONLY}`,
    expect: "hello from fake copilot",
    upstreamPath: "/responses",
    check: webSearchForwarded,
  },
  {
    name: "codex-hello-translated",
    agent: "codex",
    model: "gpt-4.1",
    prompt: `Say hello. ${TEXT_ONLY}`,
    expect: "Hello from fake Claude",
    upstreamPath: "/chat/completions",
    check: namespacesFlattened,
  },
  {
    name: "codex-tool-loop",
    agent: "codex",
    model: "gpt-5.1-codex",
    prompt: "Run the shell command the fake asks for.",
    expect: "the tool said:",
    upstreamPath: "/responses",
    check: all(toolLoop("function_call_output"), reasoningReplayed, webSearchForwarded),
  },
  {
    name: "codex-tool-loop-translated",
    agent: "codex",
    model: "gpt-4.1",
    prompt: "Run the shell command the fake asks for.",
    expect: "The tool said:",
    upstreamPath: "/chat/completions",
    check: toolLoop("tool"),
  },
];

async function runOne(run: Run, fake: FakeUpstream, baseUrl: string, secret: string): Promise<string | undefined> {
  const home = mkdtempSync(join(tmpdir(), `e2e-${run.name}-`));
  const workdir = join(home, "work");
  mkdirSync(workdir);
  try {
    const before = fake.requests.length;
    const proc = Bun.spawn(agentCommand(run, workdir), {
      cwd: workdir,
      env: agentEnv(run, home, baseUrl, secret),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), RUN_TIMEOUT_MS);
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    const sent = fake.requests.slice(before).filter((r) => r.method === "POST" && r.path === run.upstreamPath);
    const tail = `\n--- stdout ---\n${stdout.slice(-3000)}\n--- stderr ---\n${stderr.slice(-3000)}`;
    if (code !== 0) return `exit ${code}${tail}`;
    if (!stdout.includes(run.expect)) return `the output lacks ${JSON.stringify(run.expect)}${tail}`;
    if (run.quiet && /retired|deprecated/i.test(stderr)) return `the agent warned about its model${tail}`;
    if (sent.length === 0) return `nothing reached the fake's ${run.upstreamPath}${tail}`;
    return run.check?.(sent);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { capture: { type: "string" }, only: { type: "string" } } });
  const started = Date.now();
  ensureAgents();
  const fake = startFakeUpstream();
  const gateway = await startGateway(fake);
  const capture = startCapture(gateway.url);
  const failures: string[] = [];
  try {
    for (const run of RUNS.filter((r) => !values.only || r.name.includes(values.only))) {
      capture.begin(run.name);
      const t = Date.now();
      const failure = await runOne(run, fake, capture.url, gateway.secret);
      console.log(`${failure ? "FAIL" : "ok  "} ${run.name} (${((Date.now() - t) / 1000).toFixed(1)} s)${failure ? `: ${failure}` : ""}`);
      if (failure) failures.push(run.name);
    }
  } finally {
    capture.stop();
    await gateway.stop();
    fake.stop();
  }
  if (values.capture) {
    mkdirSync(values.capture, { recursive: true });
    for (const [name, list] of capture.byRun) writeFileSync(join(values.capture, `${name}.json`), `${JSON.stringify(list, null, 2)}\n`);
    console.log(`captured requests written to ${values.capture}`);
  }
  console.log(
    `${failures.length === 0 ? "all agent runs passed" : `${failures.length} failed: ${failures.join(", ")}`} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  process.exit(failures.length === 0 ? 0 : 1);
}

await main();
