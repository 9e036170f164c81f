import { defineCommand } from "citty";
import { guarded, parseChoice } from "~/lib/cli";
import { cmd } from "~/lib/command-name";
import { AppError, errorMessage } from "~/lib/errors";
import { githubTokenFlags, upstreamArgs } from "~/upstream/cli-args";
import { ACCOUNT_TYPES, type ClientIdentity, clientIdentity, copilotBaseUrl, IDENTITY_ENV, upstreamUrls } from "~/upstream/config";
import { CopilotClient } from "~/upstream/copilot-client";
import { CopilotToken } from "~/upstream/copilot-token";
import { githubTokenPath, resolveGithubToken } from "~/upstream/github-token";
import { type CatalogEntry, defaultSearchModel } from "~/upstream/model-catalog";

interface Check {
  ok: boolean;
  text: string;
  hint?: string;
}

const VERSION_HINT =
  "Copilot refuses this client's version: set COPILOT_API_EDITOR_VERSION, COPILOT_API_PLUGIN_VERSION and COPILOT_API_API_VERSION to what a current VS Code sends (see the README), or update copilot-api";

/** What Copilot said, bounded: its error message when it sent JSON, else the start of the text. */
async function upstreamMessage(response: Response): Promise<string> {
  const body = (await response.text()).slice(0, 2000);
  try {
    const json = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof json.error === "string" ? json.error : (json.error?.message ?? json.message);
    if (typeof message === "string") return message.trim().slice(0, 200);
  } catch {
    // not JSON: the text itself
  }
  return body.trim().slice(0, 200);
}

function hintFor(status: number, message: string): string {
  if (status === 466 || /version/i.test(message)) return VERSION_HINT;
  if (status === 401 || status === 403) return "this account's Copilot plan does not allow it: check the subscription, or --account-type";
  return "Copilot may be having trouble; try again shortly";
}

function identityLines(identity: ClientIdentity): [string, string][] {
  const from = (part: keyof typeof IDENTITY_ENV) => (identity.overridden.includes(part) ? ` (from ${IDENTITY_ENV[part]})` : "");
  return [
    ["editor-version", identity.editorVersion + from("editorVersion")],
    ["editor-plugin-version", identity.pluginVersion + from("pluginVersion")],
    ["user-agent", identity.userAgent + from("userAgent")],
    ["x-github-api-version", `${identity.apiVersion}${from("apiVersion")} to Copilot, ${identity.githubApiVersion}${from("githubApiVersion")} to GitHub`],
    ["copilot-integration-id", identity.integrationId + from("integrationId")],
  ];
}

export const doctorCommand = defineCommand({
  meta: { name: "doctor", description: "Show what is sent to Copilot, then check the GitHub token and the model catalog" },
  args: { ...upstreamArgs },
  run: guarded(async ({ args }, io) => {
    const accountType = parseChoice("--account-type", args["account-type"], ACCOUNT_TYPES);
    const urls = upstreamUrls(accountType, { enterpriseUrl: args["enterprise-url"], env: io.env });
    const identity = clientIdentity(io.env);
    const github = resolveGithubToken(githubTokenFlags(args), io.env);
    const out: string[] = [];
    const section = (title: string, rows: [string, string][]) => {
      out.push(title);
      const width = Math.max(...rows.map(([k]) => k.length));
      for (const [k, v] of rows) out.push(`  ${k.padEnd(width)}  ${v}`);
    };
    section("sent upstream", [
      ...identityLines(identity),
      ["account type", accountType],
      ["enterprise", urls.enterprise ?? "(none: github.com)"],
      ["GitHub", urls.github],
      ["GitHub API", urls.githubApi],
      [
        "Copilot API",
        urls.copilotOverride ? `${urls.copilotOverride} (from COPILOT_API_COPILOT_URL)` : `${urls.copilot} unless the token names another (endpoints.api)`,
      ],
      // Where the token comes from, never the token.
      ["GitHub token", github ? (github.source === "file" ? `from ${githubTokenPath(io.env)}` : `from ${github.source}`) : "(none)"],
    ]);

    const checks: Check[] = [];
    if (!github) {
      checks.push({ ok: false, text: "GitHub token: none found", hint: `run \`${cmd("auth")}\`, or pass --github-token-file or GH_TOKEN` });
    } else {
      const token = new CopilotToken(urls, github.token, { identity });
      try {
        const session = await token.session();
        checks.push({ ok: true, text: `GitHub token: ${urls.githubApi} exchanged it for a Copilot token` });
        const origin = urls.copilotOverride ? "COPILOT_API_COPILOT_URL" : session.apiUrl ? "the token's endpoints.api" : "the account type";
        checks.push({ ok: true, text: `Copilot API: ${copilotBaseUrl(urls, session.apiUrl)} (from ${origin})` });
        checks.push(await catalogCheck(new CopilotClient(urls, token, identity)));
      } catch (error) {
        checks.push({ ok: false, text: `GitHub token: ${errorMessage(error)}`, hint: error instanceof AppError ? error.hint : undefined });
      } finally {
        token.stop();
      }
    }
    out.push("checks");
    for (const check of checks) {
      out.push(`  ${check.ok ? "ok  " : "FAIL"}  ${check.text}`);
      if (check.hint) out.push(`        what to do: ${check.hint}`);
    }
    const failed = checks.filter((c) => !c.ok).length;
    out.push(failed ? `${failed} check(s) failed` : "all checks passed");
    io.print(out.join("\n"));
    if (failed) io.exit(1);
  }),
});

async function catalogCheck(client: CopilotClient): Promise<Check> {
  let response: Response;
  try {
    response = await client.forward({ method: "GET", path: "/models" });
  } catch (error) {
    return { ok: false, text: `catalog: ${errorMessage(error)}`, hint: error instanceof AppError ? error.hint : undefined };
  }
  if (!response.ok) {
    const message = await upstreamMessage(response);
    return { ok: false, text: `catalog: GET /models answered HTTP ${response.status}: ${message}`, hint: hintFor(response.status, message) };
  }
  try {
    const list = (await response.json()) as { data?: unknown };
    if (!Array.isArray(list.data)) throw new Error("no data array");
    const searcher = defaultSearchModel(list.data as CatalogEntry[]);
    const search = searcher
      ? `; web search for models that cannot run it (Claude Code's WebSearch) runs on ${searcher.id} (start --web-search-model to choose another)`
      : "; no model offers /responses, so web search tools are left out of requests (x-copilot-api-dropped-tools)";
    return { ok: true, text: `catalog: GET /models answered ${list.data.length} models${search}` };
  } catch (error) {
    return {
      ok: false,
      text: `catalog: GET /models answered something that is not a model list (${errorMessage(error)})`,
      hint: "Copilot may have changed its API; update copilot-api",
    };
  }
}
