import { defineCommand } from "citty";
import { withStore } from "~/db";
import { cliActor, createKeyAudited } from "~/features/audit";
import { type CliIo, dbPathArg, guarded, parseChoice, parsePort } from "~/lib/cli";
import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { githubTokenFlags, requireGithubToken, upstreamArgs } from "~/upstream/cli-args";
import { ACCOUNT_TYPES, clientIdentity, upstreamUrls } from "~/upstream/config";
import { CopilotClient } from "~/upstream/copilot-client";
import { CopilotToken } from "~/upstream/copilot-token";
import { resolveGithubToken } from "~/upstream/github-token";
import { claudeModelIds, ModelCatalog } from "~/upstream/model-catalog";
import { claudeCodeName, pickClaudeModels } from "./models";

/** A value as a POSIX shell word: as it is when it is plain, else single-quoted. */
const shellWord = (value: string) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`);

/** Copilot's catalog, fetched once with the GitHub token (as `doctor` does). */
async function fetchCatalog(
  args: Parameters<typeof githubTokenFlags>[0] & { "account-type": string; "enterprise-url"?: string },
  env: CliIo["env"],
): Promise<ModelCatalog> {
  const github = requireGithubToken(githubTokenFlags(args), env);
  const urls = upstreamUrls(parseChoice("--account-type", args["account-type"], ACCOUNT_TYPES), { enterpriseUrl: args["enterprise-url"], env });
  const identity = clientIdentity(env);
  const token = new CopilotToken(urls, github.token, { identity });
  try {
    const client = new CopilotClient(urls, token, identity);
    let failure: unknown;
    const catalog = new ModelCatalog(() => client.models(), { onError: (error) => (failure = error) });
    if (!(await catalog.refreshOnce())) throw failure;
    return catalog;
  } finally {
    token.stop();
  }
}

/** The catalog id a --model / --small-model names (Anthropic's dated names resolve too), or an error listing the Claude models. */
function resolveFlag(flag: string, name: string, catalog: ModelCatalog | undefined): string {
  if (!catalog) return name;
  const entry = catalog.resolve(name);
  if (entry) return entry.id;
  throw new AppError(
    `${flag} ${name} is not in this Copilot plan's model list`,
    `pass one of its Claude models: ${claudeModelIds(catalog.all()).join(", ") || "(none)"}`,
  );
}

export const claudeCodeCommand = defineCommand({
  meta: {
    name: "claude-code",
    description: `Print the environment that points Claude Code at this server: eval "$(${cmd("claude-code --create-key")})", then run claude`,
  },
  args: {
    port: { type: "string", description: "the port `start` listens on", default: "4141", alias: "p" },
    host: { type: "string", description: "the address `start` listens on", default: "127.0.0.1" },
    "base-url": { type: "string", description: "the server's URL as Claude Code reaches it (default: http://HOST:PORT)", valueHint: "URL" },
    model: { type: "string", description: "main model (default: the catalog's newest Claude Sonnet)", valueHint: "MODEL" },
    "small-model": { type: "string", description: "small, fast model for background tasks (default: the catalog's newest Claude Haiku)", valueHint: "MODEL" },
    "create-key": { type: "boolean", description: "create a client key for Claude Code and print its secret (shown only this once)", default: false },
    label: { type: "string", description: "label of the key --create-key creates", default: "claude-code" },
    ...dbPathArg,
    ...upstreamArgs,
  },
  run: guarded(async ({ args }, io) => {
    const baseUrl = (args["base-url"] ?? `http://${args.host.includes(":") ? `[${args.host}]` : args.host}:${parsePort(args.port)}`).replace(/\/+$/, "");
    // With a GitHub token the catalog checks the models given; both given, none is needed.
    const offline = args.model !== undefined && args["small-model"] !== undefined && !resolveGithubToken(githubTokenFlags(args), io.env);
    if (offline) log.warn("no GitHub token: --model and --small-model are printed as given, not checked against the Copilot plan");
    const catalog = offline ? undefined : await fetchCatalog(args, io.env);
    const picked = catalog ? pickClaudeModels(catalog.all()) : undefined;
    // Printed in Claude Code's dashed spelling (the gateway resolves it to the catalog id); as given without a catalog.
    const named = (id: string | undefined) => (id && catalog ? claudeCodeName(id, (name) => catalog.resolve(name)?.id) : id);
    const main = named(args.model ? resolveFlag("--model", args.model, catalog) : picked?.main);
    const small = named(args["small-model"] ? resolveFlag("--small-model", args["small-model"], catalog) : picked?.small) ?? main;
    if (!main || !small)
      throw new AppError(
        "this Copilot plan's model list has no Claude model Claude Code could use",
        `pass --model and --small-model with models of your plan (\`${cmd("doctor")}\` lists how many it has)`,
      );

    const lines = [`export ANTHROPIC_BASE_URL=${shellWord(baseUrl)}`];
    if (args["create-key"]) {
      const { row, secret } = await withStore(dbPath(args["db-path"], io.env), io.env, (store) =>
        createKeyAudited(store, { tier: "client", label: args.label, allowedModels: ["*"], rateLimit: null }, cliActor()),
      );
      lines.push(`export ANTHROPIC_AUTH_TOKEN=${shellWord(secret)}`);
      log.success(`created client key ${row.id} (${row.label}); its secret is in ANTHROPIC_AUTH_TOKEN above and is shown only once`);
    } else {
      lines.push(`# export ANTHROPIC_AUTH_TOKEN=cpk_…   a client key: rerun with --create-key, or use one from \`${cmd("keys create")}\``);
    }
    lines.push(
      `export ANTHROPIC_MODEL=${shellWord(main)}`,
      `export ANTHROPIC_SMALL_FAST_MODEL=${shellWord(small)}`,
      `export ANTHROPIC_DEFAULT_HAIKU_MODEL=${shellWord(small)}`,
    );
    io.print(lines.join("\n"));
  }),
});
