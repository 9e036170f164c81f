import { defineCommand } from "citty";
import { databaseUrl, databaseUrlArg, dbPathArg, guarded } from "~/lib/cli";
import { dbPath } from "~/lib/paths";
import { enterpriseUrlArg, githubTokenArgs, githubTokenFlags, requireGithubToken } from "~/upstream/cli-args";
import { upstreamUrls } from "~/upstream/config";
import { fetchCopilotUser } from "~/upstream/copilot-user";
import { resolveGithubToken } from "~/upstream/github-token";
import { type CredentialQuotas, formatQuota, summarize } from "./quota";
import { formatWindows, readWindowsFile, windowsFileOf } from "./windows";

/** `quota`: the default token's counters, then every credential's, side by side (credentials come from the store: see commands.ts). */
export function quotaCommandWith(credentialQuotas: CredentialQuotas) {
  return defineCommand({
    meta: {
      name: "quota",
      description:
        "Copilot's own counters, for the default GitHub token and each credential: premium interactions, chat and completions used and left, the reset date, and the session and weekly windows",
    },
    args: {
      ...dbPathArg,
      ...databaseUrlArg,
      ...enterpriseUrlArg,
      ...githubTokenArgs,
      json: { type: "boolean", description: "print JSON", default: false },
    },
    run: guarded(async ({ args }, io) => {
      // The account type only picks the Copilot API URL; the counters come from the GitHub API.
      const urls = upstreamUrls("individual", { enterpriseUrl: args["enterprise-url"], env: io.env });
      const store = { dbPath: dbPath(args["db-path"], io.env), databaseUrl: databaseUrl(args["database-url"], io.env) };
      const credentials = await credentialQuotas(store, urls, io.env);
      // The default token is needed only when there is no credential to show.
      const github = credentials.length ? resolveGithubToken(githubTokenFlags(args), io.env) : requireGithubToken(githubTokenFlags(args), io.env);
      const report = github && summarize(await fetchCopilotUser(urls, github.token));
      // The session and weekly windows come from Copilot's answers, which only the running server sees.
      const windows = readWindowsFile(windowsFileOf(dbPath(args["db-path"], io.env)));
      if (args.json) {
        io.print(JSON.stringify({ ...report, windows: windows ?? [], ...(credentials.length ? { credentials } : {}) }, null, 2));
        return;
      }
      const blocks = report ? [`default GitHub token\n${formatQuota(report)}`] : [];
      for (const c of credentials)
        blocks.push(`credential ${c.label} (${c.id})\n${c.report ? formatQuota(c.report) : `  could not read its counters: ${c.error}`}`);
      blocks.push(formatWindows(windows));
      io.print(blocks.join("\n\n"));
    }),
  });
}
