import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { FILE_MODE, tightenLoudly } from "~/lib/file-modes";
import { appDir } from "~/lib/paths";

export const githubTokenPath = () => join(appDir(), "github_token");

export type TokenSource = "--github-token" | "GH_TOKEN" | "file";

/** --github-token, else GH_TOKEN, else the file `copilot-api auth` wrote. */
export function resolveGithubToken(flag: string | undefined, env = process.env): { token: string; source: TokenSource } | undefined {
  if (flag) return { token: flag.trim(), source: "--github-token" };
  if (env.GH_TOKEN) return { token: env.GH_TOKEN.trim(), source: "GH_TOKEN" };
  const path = githubTokenPath();
  if (!existsSync(path)) return undefined;
  tightenLoudly(path, FILE_MODE);
  const token = readFileSync(path, "utf8").trim();
  return token ? { token, source: "file" } : undefined;
}

/** Written to a private temporary file and renamed, so the token is never readable by others, even briefly. */
export function saveGithubToken(token: string): string {
  const path = githubTokenPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: "w" });
  renameSync(tmp, path);
  return path;
}
