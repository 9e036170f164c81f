import { AppError } from "~/lib/errors";
import { isLoopback } from "~/lib/net";

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * `--metrics-listen 127.0.0.1:9464`: a listener only this machine can reach, for a scraper
 * without a key. Anything but a loopback address is refused: it would publish key labels
 * and usage to the network without a key.
 */
export function parseMetricsListen(value: string): ListenAddress {
  const match = value.trim().match(/^(\[[^\]]+\]|[^:]+):(\d{1,5})$/);
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || port > 65_535)
    throw new AppError(`--metrics-listen ${value} is not HOST:PORT`, "use a loopback address and a port, e.g. --metrics-listen 127.0.0.1:9464");
  const host = match[1]!.replace(/^\[|\]$/g, "");
  if (!isLoopback(host)) {
    throw new AppError(
      `--metrics-listen ${value} is not a loopback address: the metrics listener has no key check, so it only listens where nobody else can reach it`,
      "use 127.0.0.1 or [::1] (run a scraper on this machine), or scrape GET /metrics on the main port with an admin key",
    );
  }
  return { host, port };
}
