import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

type Env = Record<string, string | undefined>;

/** $XDG_DATA_HOME/copilot-api when XDG_DATA_HOME is absolute (as the XDG spec demands), else ~/.local/share/copilot-api. */
export function appDir(env: Env = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), ".local", "share");
  return join(base, "copilot-api");
}

/** --db-path, else $COPILOT_API_DB_PATH, else appDir()/copilot-api.db. Relative paths resolve against the working folder. */
export function dbPath(flag?: string, env: Env = process.env): string {
  const chosen = flag || env.COPILOT_API_DB_PATH;
  return chosen ? resolve(chosen) : join(appDir(env), "copilot-api.db");
}
