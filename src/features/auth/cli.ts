import { defineCommand } from "citty";
import { checkLabel, storeCredential } from "~/features/credentials";
import { databaseUrlArg, dbPathArg, guarded, parseChoice } from "~/lib/cli";
import { log } from "~/lib/log";
import { accountTypeArg, enterpriseUrlArg } from "~/upstream/cli-args";
import { ACCOUNT_TYPES, upstreamUrls } from "~/upstream/config";
import { pollForToken, requestDeviceCode } from "~/upstream/device-flow";
import { saveGithubToken } from "~/upstream/github-token";

/** `copilot-api auth`: GitHub's device flow, then the token saved (0600) for `start`, `doctor` and `quota`. */
export const authCommand = defineCommand({
  meta: { name: "auth", description: "Sign in to GitHub (device flow) and save the token for `start`" },
  args: {
    ...accountTypeArg,
    ...enterpriseUrlArg,
    ...dbPathArg,
    ...databaseUrlArg,
    label: {
      type: "string",
      description: "store the token as the credential LABEL (sealed in the database) instead of the default token file",
      valueHint: "LABEL",
    },
  },
  run: guarded(async ({ args }, io) => {
    const label = args.label === undefined ? undefined : checkLabel(args.label);
    const urls = upstreamUrls(parseChoice("--account-type", args["account-type"], ACCOUNT_TYPES), { enterpriseUrl: args["enterprise-url"], env: io.env });
    const code = await requestDeviceCode(urls);
    log.box(`Open ${code.verification_uri} and enter the code ${code.user_code}`);
    const token = await pollForToken(urls, code);
    if (label) {
      // Sealed in the store: the SQLite file, or with --database-url the PostgreSQL database every gateway on it reads.
      await storeCredential(args, io.env, urls, { label, kind: "oauth", token });
      return;
    }
    const path = saveGithubToken(token, io.env);
    log.success(`GitHub token saved to ${path} (mode 0600)`);
  }),
});
