import { describe, expect, test } from "bun:test";
import { defineCommand } from "citty";
import { AppError } from "~/lib/errors";
import { checkFlags } from "~/lib/strict-flags";
import { cleanUpAfterFile, cli, isolatedEnv, tempDir } from "./helpers";

cleanUpAfterFile();

const tree = defineCommand({
  meta: { name: "tool" },
  subCommands: {
    start: defineCommand({
      args: {
        port: { type: "string", alias: "p", default: "4141" },
        "body-limit-mb": { type: "string" },
        auth: { type: "boolean", default: true },
      },
    }),
    keys: defineCommand({
      subCommands: { revoke: defineCommand({ args: { id: { type: "positional" }, json: { type: "boolean" } } }) },
    }),
  },
});

async function refusal(argv: string[]): Promise<AppError | undefined> {
  try {
    await checkFlags(tree, argv, "tool");
    return undefined;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
}

describe("strict flags", () => {
  test("every spelling citty accepts passes", async () => {
    for (const argv of [
      ["start", "--port", "5000"],
      ["start", "-p", "5000"],
      ["start", "--port=5000"],
      ["start", "--body-limit-mb", "2", "--no-auth"],
      ["start", "--bodyLimitMb", "2"],
      ["start", "--help"],
      ["keys", "revoke", "key_1", "--json"],
      ["keys", "revoke", "--", "--not-a-flag"],
    ]) {
      expect({ argv, error: (await refusal(argv))?.message }).toEqual({ argv, error: undefined });
    }
  });

  test("an unknown flag names itself and the nearest known one", async () => {
    const error = await refusal(["start", "--prot", "5000"]);
    expect(error?.message).toBe("unknown flag --prot for `tool start`");
    expect(error?.hint).toContain("did you mean --port?");
    expect((await refusal(["keys", "revoke", "key_1", "--jsno"]))?.hint).toContain("did you mean --json?");
    expect((await refusal(["start", "--zzzzzzzz"]))?.hint).not.toContain("did you mean");
  });

  test("a string flag without a value is refused, a boolean one is not", async () => {
    expect((await refusal(["start", "--port"]))?.message).toBe("--port needs a value");
    expect((await refusal(["start", "--port", "--no-auth"]))?.message).toBe("--port needs a value");
    expect(await refusal(["start", "--no-auth"])).toBeUndefined();
  });
});

describe("the real CLI refuses mistyped flags", () => {
  test("keys create --lable exits non-zero naming --label, and writes nothing", async () => {
    const env = isolatedEnv(tempDir());
    const typo = await cli(["keys", "create", "--lable", "laptop"], env);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain("unknown flag --lable");
    expect(typo.stderr).toContain("did you mean --label?");
    const list = await cli(["keys", "list", "--json"], env);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  test("start --prot exits non-zero before opening anything", async () => {
    const env = isolatedEnv(tempDir());
    const typo = await cli(["start", "--prot", "5000"], env);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain("did you mean --port?");
  });
});
