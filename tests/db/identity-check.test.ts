import { expect, test } from "bun:test";
import { renameSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "~/db";
import { AppError } from "~/lib/errors";
import { cleanUpAfterFile, tempDir } from "../helpers";
import { captureLog } from "../log-capture";

cleanUpAfterFile();

/** A store at `path` and another, closed database (a single file) to move over it. */
function storeAndReplacement(identityCheckMs: number) {
  const quiet = captureLog();
  const path = join(tempDir(), "copilot-api.db");
  const store = openStore({ path, identityCheckMs });
  const other = join(tempDir(), "other.db");
  openStore({ path: other }).close();
  quiet.release();
  store.sqlite.run("CREATE TABLE t (x)");
  return { store, replace: () => renameSync(other, path) };
}

const write = (store: ReturnType<typeof openStore>) => store.transaction(() => store.sqlite.run("INSERT INTO t VALUES (1)"));

test("transactions check the file's identity on a timer: a database replaced under the store is refused once the interval has passed", async () => {
  const { store, replace } = storeAndReplacement(50);
  write(store);
  replace();
  await Bun.sleep(60);
  expect(() => write(store)).toThrow(/was replaced by another file while the server had it open/);
  expect(() => write(store)).toThrow(AppError); // and from then on, every time
  store.close();
});

test("a transaction that fails checks the identity at once: the error says the database was replaced, not what failed inside it", () => {
  const { store, replace } = storeAndReplacement(60_000);
  write(store);
  replace();
  let thrown: unknown;
  try {
    store.transaction(() => {
      throw new Error("disk I/O error");
    });
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(AppError);
  expect((thrown as AppError).message).toContain("was replaced by another file while the server had it open");
  expect(store.fileProblem()).toContain("was replaced by another file");
  store.close();
});

test("fileProblem() (what /healthz reads) checks the files on every call, whatever the interval", () => {
  const { store, replace } = storeAndReplacement(60_000);
  write(store);
  expect(store.fileProblem()).toBeUndefined();
  replace();
  expect(store.fileProblem()).toContain("was replaced by another file");
  store.close();
});
