import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { appDirOf, cleanUpAfterFile, cli, dbFileOf, isolatedEnv, MAIN, ROOT, tempDir } from "../helpers";

cleanUpAfterFile();

const mode = (path: string) => statSync(path).mode & 0o777;

describe("open step", () => {
  test("files are born 0600 and the folder 0700 even under umask 000", async () => {
    const home = tempDir();
    const proc = Bun.spawn(["sh", "-c", `umask 000 && exec "${process.execPath}" "${MAIN}" db migrate`], { cwd: ROOT, env: isolatedEnv(home), stderr: "pipe" });
    expect(await proc.exited).toBe(0);
    expect(mode(appDirOf(home))).toBe(0o700);
    expect(mode(dbFileOf(home))).toBe(0o600);
  });

  test("wide modes on the database, its WAL files and the app folder are warned about, naming file and mode, then tightened", async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    expect((await cli(["db", "migrate"], env)).code).toBe(0);
    const db = dbFileOf(home);
    writeFileSync(`${db}-wal`, ""); // a left-over WAL file with a careless mode
    chmodSync(db, 0o644);
    chmodSync(`${db}-wal`, 0o666);
    chmodSync(appDirOf(home), 0o755);

    const result = await cli(["db", "status"], env);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`SECURITY: ${db} had mode 0644`);
    expect(result.stderr).toContain(`SECURITY: ${db}-wal had mode 0666`);
    expect(result.stderr).toContain(`SECURITY: ${appDirOf(home)} had mode 0755`);
    expect(mode(db)).toBe(0o600);
    // SQLite removes the WAL when the last connection closes; if it stayed, it is private.
    if (existsSync(`${db}-wal`)) expect(mode(`${db}-wal`)).toBe(0o600);
    expect(mode(appDirOf(home))).toBe(0o700);
  });

  test("a folder the user chose for --db-path is not chmod-ed", async () => {
    const home = tempDir();
    const shared = join(home, "shared");
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755);
    const result = await cli(["db", "migrate", "--db-path", join(shared, "x.db")], isolatedEnv(home));
    expect(result.code).toBe(0);
    expect(mode(shared)).toBe(0o755);
    expect(mode(join(shared, "x.db"))).toBe(0o600);
  });

  test("a database path that is a symlink is refused", async () => {
    const home = tempDir();
    const env = isolatedEnv(home);
    const real = join(home, "real.db");
    expect((await cli(["db", "migrate", "--db-path", real], env)).code).toBe(0);
    const link = join(home, "link.db");
    symlinkSync(real, link);
    const result = await cli(["start", "--port", "0", "--db-path", link], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${link} is a symbolic link`);
    expect(result.stderr).toContain("what to do:");
  });

  test("a file that is not a SQLite database is refused and left untouched", async () => {
    const home = tempDir();
    const file = join(home, "notes.db");
    const content = "these are my notes, not a database\n".repeat(200);
    writeFileSync(file, content, { mode: 0o640 });
    for (const args of [
      ["start", "--port", "0"],
      ["db", "migrate"],
      ["db", "status"],
      ["db", "verify"],
    ]) {
      const result = await cli([...args, "--db-path", file], isolatedEnv(home));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${file} is not a SQLite database; it was left untouched`);
    }
    expect(readFileSync(file, "utf8")).toBe(content);
    expect(mode(file)).toBe(0o640);
  });

  test("status and verify on a missing database say how to create it, and create nothing", async () => {
    const home = tempDir();
    for (const args of [
      ["db", "status"],
      ["db", "verify"],
      ["db", "backup"],
    ]) {
      const result = await cli(args, isolatedEnv(home));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`no database at ${dbFileOf(home)}`);
    }
    expect(() => statSync(dbFileOf(home))).toThrow();
  });

  test("a bad --port is refused with a clear message", async () => {
    const result = await cli(["start", "--port", "http"], isolatedEnv(tempDir()));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--port http is not a port number");
  });
});
