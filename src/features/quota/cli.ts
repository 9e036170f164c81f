import { defineCommand } from "citty";
import { dbPathArg, guarded } from "~/lib/cli";
import { dbPath } from "~/lib/paths";
import { enterpriseUrlArg, githubTokenArgs, githubTokenFlags, requireGithubToken } from "~/upstream/cli-args";
import { upstreamUrls } from "~/upstream/config";
import { fetchCopilotUser } from "~/upstream/copilot-user";
import { formatQuota, summarize } from "./quota";
import { formatWindows, readWindowsFile, windowsFileOf } from "./windows";

export const quotaCommand = defineCommand({
  meta: {
    name: "quota",
    description: "Copilot's own counters: premium interactions, chat and completions used and left, the reset date, and the session and weekly windows",
  },
  args: {
    ...dbPathArg,
    ...enterpriseUrlArg,
    ...githubTokenArgs,
    json: { type: "boolean", description: "print JSON", default: false },
  },
  run: guarded(async ({ args }) => {
    const github = requireGithubToken(githubTokenFlags(args));
    // The account type only picks the Copilot API URL; the counters come from the GitHub API.
    const urls = upstreamUrls("individual", { enterpriseUrl: args["enterprise-url"] });
    const report = summarize(await fetchCopilotUser(urls, github.token));
    // The session and weekly windows come from Copilot's answers, which only the running server sees.
    const windows = readWindowsFile(windowsFileOf(dbPath(args["db-path"])));
    console.log(args.json ? JSON.stringify({ ...report, windows: windows ?? [] }, null, 2) : `${formatQuota(report)}\n\n${formatWindows(windows)}`);
  }),
});
