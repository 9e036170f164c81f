/**
 * What asks a running server to stop: the signals a supervisor, Ctrl-C or a closing
 * terminal send, and the launcher (bin/copilot-api.mjs) going away. Each ends in the
 * same clean stop (drain, final event flush, Litestream's final sync, close): a signal's
 * default action would kill the process outright and leave Litestream running orphaned.
 */

/** SIGHUP too: a closing terminal sends it, and the launcher forwards it. */
export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Set by the launcher to its own pid: the server's parent while the launcher lives. */
export const LAUNCHER_PID_ENV = "COPILOT_API_LAUNCHER_PID";

/** How often the server looks whether its launcher still lives. */
const LAUNCHER_CHECK_MS = 1000;

export function onStopRequests(stop: (why: string) => void, env: Record<string, string | undefined> = process.env): void {
  for (const signal of STOP_SIGNALS) process.on(signal, () => stop(signal));
  // A launcher killed outright (SIGKILL, an OOM kill) forwards nothing: its server, reparented, stops by itself.
  // Only when the launcher is the parent now, so a server started some other way (nohup, a service) never stops for this.
  const launcher = Number(env[LAUNCHER_PID_ENV]);
  if (!(launcher > 0) || process.ppid !== launcher) return;
  const timer = setInterval(() => {
    if (process.ppid === launcher) return;
    clearInterval(timer);
    stop("launcher gone");
  }, LAUNCHER_CHECK_MS);
  timer.unref();
}
