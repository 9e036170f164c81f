import { defineCommand } from "citty";
import { guarded } from "~/lib/cli";
import { enterpriseUrlArg, githubTokenArgs, githubTokenFlags, requireGithubToken } from "~/upstream/cli-args";
import { upstreamUrls } from "~/upstream/config";
import { fetchCopilotUser } from "~/upstream/copilot-user";
import { formatQuota, summarize } from "./quota";

export const quotaCommand = defineCommand({
  meta: { name: "quota", description: "Copilot's own counters: premium interactions, chat and completions used and left, and the reset date" },
  args: {
    ...enterpriseUrlArg,
    ...githubTokenArgs,
    json: { type: "boolean", description: "print JSON", default: false },
  },
  run: guarded(async ({ args }) => {
    const github = requireGithubToken(githubTokenFlags(args));
    // The account type only picks the Copilot API URL; the counters come from the GitHub API.
    const urls = upstreamUrls("individual", { enterpriseUrl: args["enterprise-url"] });
    const report = summarize(await fetchCopilotUser(urls, github.token));
    console.log(args.json ? JSON.stringify(report, null, 2) : formatQuota(report));
  }),
});
