import { expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "~/lib/errors";
import { SecretBox } from "~/lib/secret-box";
import { cleanUpAfterFile, tempDir } from "../helpers";

cleanUpAfterFile();

const TOKEN = "github_pat_11AAAAAAA0secretsecretsecret";

test("a sealed secret opens with its key and id, its bytes never hold the plaintext, and the key file is created 0600 in a 0700 folder", () => {
  const folder = join(tempDir(), "app");
  const box = new SecretBox(join(folder, "credentials.key"));
  const sealed = box.seal(TOKEN, "cred_a");
  expect(sealed.includes(Buffer.from(TOKEN))).toBe(false);
  expect(sealed[0]).toBe(1);
  expect(new SecretBox(box.keyPath).open(sealed, "cred_a")).toBe(TOKEN);
  expect(statSync(box.keyPath).mode & 0o777).toBe(0o600);
  expect(statSync(folder).mode & 0o777).toBe(0o700);
  // Two seals of the same secret differ (fresh IV).
  expect(box.seal(TOKEN, "cred_a").equals(sealed)).toBe(false);
});

test("a ciphertext moved to another credential's row does not open", () => {
  const box = new SecretBox(join(tempDir(), "credentials.key"));
  const sealed = box.seal(TOKEN, "cred_a");
  expect(() => box.open(sealed, "cred_b")).toThrow(AppError);
});

test("a missing key file is an error naming the file and saying to re-add the credentials; opening never creates one", () => {
  const dir = tempDir();
  const sealed = new SecretBox(join(dir, "credentials.key")).seal(TOKEN, "cred_a");
  const elsewhere = new SecretBox(join(dir, "other", "credentials.key"));
  const error = (() => {
    try {
      elsewhere.open(sealed, "cred_a");
    } catch (caught) {
      return caught as AppError;
    }
  })();
  expect(error).toBeInstanceOf(AppError);
  expect(error?.message).toContain(elsewhere.keyPath);
  expect(error?.message).toContain("missing");
  expect(error?.hint).toContain("credentials add --label LABEL");
  expect(error?.hint).toContain("auth --label");
});

test("a wrong key file is an error naming the file; a key file of the wrong size too", () => {
  const dir = tempDir();
  const sealed = new SecretBox(join(dir, "credentials.key")).seal(TOKEN, "cred_a");
  const wrongPath = join(dir, "wrong.key");
  writeFileSync(wrongPath, Buffer.alloc(32, 7), { mode: 0o600 });
  expect(() => new SecretBox(wrongPath).open(sealed, "cred_a")).toThrow(`the key file ${wrongPath} does not open the stored credentials`);
  writeFileSync(wrongPath, "short", { mode: 0o600 });
  expect(() => new SecretBox(wrongPath).open(sealed, "cred_a")).toThrow("is not a 32-byte key");
});
