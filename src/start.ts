import { openStore } from "~/db";
import { AppError, errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { dbPath } from "~/lib/paths";
import { createApp } from "~/server";

export interface StartOptions {
  port: number;
  host: string;
  dbPath?: string;
}

/**
 * The one place that orders the boot: paths, open, migrate, app, and only then
 * listen. Anything that throws before `Bun.serve` means no port is ever bound.
 */
export async function start(options: StartOptions): Promise<void> {
  const path = dbPath(options.dbPath);
  log.info(`database ${path}`);
  const store = openStore({ path });
  const app = createApp({ store });

  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({ port: options.port, hostname: options.host, fetch: app.fetch });
  } catch (error) {
    store.close();
    throw new AppError(`cannot listen on ${options.host}:${options.port}: ${errorMessage(error)}`, "pick another --port or --host");
  }
  log.success(`listening on http://${options.host}:${server.port}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping`);
    // Let in-flight requests finish, but never hang shutdown on an idle keep-alive client.
    await Promise.race([server.stop(), Bun.sleep(5000).then(() => server.stop(true))]);
    store.close();
    log.info("stopped cleanly");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}
