import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { cmd } from "~/lib/command-name";
import { AppError, errorMessage } from "~/lib/errors";
import { FILE_MODE, octal, tightenLoudly } from "~/lib/file-modes";
import { log } from "~/lib/log";
import { appDir } from "~/lib/paths";

export const githubTokenPath = (env: Record<string, string | undefined> = process.env) => join(appDir(env), "github_token");

export type TokenSource = "--github-token" | "--github-token-file" | "GH_TOKEN" | "file";

export interface GithubTokenFlags {
  /** --github-token: on the command line, so visible to every local user in `ps`. */
  token?: string;
  /** --github-token-file PATH. */
  file?: string;
}

/** A GitHub token is about 40–100 characters; anything much larger is the wrong file. */
const TOKEN_FILE_LIMIT = 64 * 1024;

const TOKEN_FILE_HINT = `write only the token to it (e.g. \`gh auth token > FILE && chmod 600 FILE\`), or use GH_TOKEN or \`${cmd("auth")}\``;

/** --github-token, else --github-token-file, else GH_TOKEN, else the file `copilot-api auth` wrote. */
export function resolveGithubToken(flags: GithubTokenFlags, env = process.env): { token: string; source: TokenSource } | undefined {
  if (flags.token !== undefined && flags.file !== undefined) {
    throw new AppError("both --github-token and --github-token-file were given", "pass only --github-token-file (the flag form shows the token in `ps`)");
  }
  if (flags.token) {
    log.warn(
      "SECURITY: --github-token puts the token on the command line, where every local user can read it (`ps`, /proc/PID/cmdline); use --github-token-file PATH or the GH_TOKEN environment variable instead",
    );
    return { token: flags.token.trim(), source: "--github-token" };
  }
  if (flags.file !== undefined) return { token: readTokenFile(flags.file), source: "--github-token-file" };
  if (env.GH_TOKEN) return { token: env.GH_TOKEN.trim(), source: "GH_TOKEN" };
  const token = readSavedToken(env);
  return token ? { token, source: "file" } : undefined;
}

/** The token `auth` saved in the app folder, if any. */
function readSavedToken(env: Record<string, string | undefined> = process.env): string | undefined {
  const path = githubTokenPath(env);
  if (!existsSync(path)) return undefined;
  tightenLoudly(path, FILE_MODE);
  return readFileSync(path, "utf8").trim() || undefined;
}

/** A file the default GitHub token is read from, which a running server reads again after a refusal. */
export interface WatchedTokenFile {
  path: string;
  /** The token it holds now; throws an AppError when it cannot be used. */
  read(): string | undefined;
}

/** Where a running server's default token can change, and what to do when GitHub refuses it. */
export interface DefaultTokenSource {
  file?: WatchedTokenFile;
  refusedHint: string;
}

const NO_RESTART = "this server picks the new token up on its next request, no restart needed";

/**
 * The file a running server watches for a new token: --github-token-file's, or
 * the one `auth` writes (also when the server started with no token at all).
 * A token given as --github-token or GH_TOKEN has none: it cannot change.
 */
export function defaultTokenSource(
  flags: GithubTokenFlags,
  source: TokenSource | undefined,
  env: Record<string, string | undefined> = process.env,
): DefaultTokenSource {
  if (source === "--github-token-file" && flags.file !== undefined) {
    const path = flags.file;
    return { file: { path, read: () => readTokenFile(path) }, refusedHint: `write a valid token to ${path} (e.g. \`gh auth token > ${path}\`); ${NO_RESTART}` };
  }
  if (source === "--github-token" || source === "GH_TOKEN") {
    return { refusedHint: `${source} cannot change under a running server: restart copilot-api with a valid one (or without it, and run \`${cmd("auth")}\`)` };
  }
  return { file: { path: githubTokenPath(env), read: () => readSavedToken(env) }, refusedHint: `run \`${cmd("auth")}\` again; ${NO_RESTART}` };
}

/**
 * Reads --github-token-file: a regular file or a pipe (`<(pass show gh)`), trimmed.
 * A file other users can read is reported, not changed: it is the user's file.
 */
export function readTokenFile(path: string, flag = "--github-token-file"): string {
  if (!path) throw new AppError(`${flag} was given an empty path`, TOKEN_FILE_HINT);
  let stat: ReturnType<typeof statSync>;
  let text: string;
  try {
    stat = statSync(path);
    if (stat.isDirectory()) throw new AppError(`${flag} ${path} is a folder, not a file`, TOKEN_FILE_HINT);
    if (stat.isFile() && stat.size > TOKEN_FILE_LIMIT) throw new AppError(`${flag} ${path} is ${stat.size} bytes, too large to be a token`, TOKEN_FILE_HINT);
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof AppError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new AppError(`${flag} ${path} does not exist`, TOKEN_FILE_HINT);
    if (code === "EACCES")
      throw new AppError(`${flag} ${path} cannot be read by this user (permission denied)`, "fix its owner or mode (chmod 600), or use GH_TOKEN");
    throw new AppError(`${flag} ${path} cannot be read: ${errorMessage(error)}`, TOKEN_FILE_HINT);
  }
  if (stat.isFile() && (stat.mode & 0o077) !== 0) {
    log.warn(`SECURITY: ${flag} ${path} has mode ${octal(stat.mode)}: other users can read or change your GitHub token; run \`chmod 600 ${path}\``);
  }
  const token = text.trim();
  if (!token) throw new AppError(`${flag} ${path} is empty`, TOKEN_FILE_HINT);
  if (/\s/.test(token)) throw new AppError(`${flag} ${path} holds more than one word; it must hold only the token`, TOKEN_FILE_HINT);
  return token;
}

/** Written to a private temporary file and renamed, so the token is never readable by others, even briefly. */
export function saveGithubToken(token: string, env: Record<string, string | undefined>): string {
  const path = githubTokenPath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: "w" });
  renameSync(tmp, path);
  return path;
}
