import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { AppError } from "~/lib/errors";

/** The Litestream line this code speaks: 0.3.x (`replicate -config`, `restore -o`, JSON logs). @flydotio/litestream 1.0.1 brings v0.3.13. */
const PLATFORM_PACKAGE = `@flydotio/litestream-${process.platform}-${process.arch}`;
const SCHEMES = ["file", "s3", "gcs", "abs", "sftp"] as const;
/** Query parameters of an s3:// URL that become fields of Litestream's configuration (for S3-compatible stores). */
const S3_FIELDS = { endpoint: "endpoint", region: "region", "force-path-style": "force-path-style", "skip-verify": "skip-verify" } as const;
const MAX_URL = 2048;

export interface ReplicaTarget {
  /** What Litestream gets as the replica's `url`. */
  url: string;
  /** The URL without password or query: safe to log and to show in `db status`. */
  display: string;
  /** Extra replica fields for Litestream's configuration (endpoint, region, …). */
  fields: Record<string, string | boolean>;
}

/**
 * `--replicate-to` / `--from`: a file:// URL (or an absolute folder path) or an
 * S3-compatible, GCS, Azure Blob or SFTP URL, passed through to Litestream.
 * Credentials never go in the URL: Litestream reads them from the environment.
 */
export function replicaTarget(raw: string, flag = "--replicate-to"): ReplicaTarget {
  const text = raw.trim();
  if (text.length > MAX_URL) throw new AppError(`${flag} is longer than ${MAX_URL} characters`, "pass the replica's URL, e.g. file:///srv/backups/copilot-api");
  if (isAbsolute(text)) return replicaTarget(`file://${encodeURI(text)}`, flag);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AppError(`${flag} ${clipUrl(text)} is not a URL`, "pass file:///absolute/folder, or s3://bucket/path (and the like) for object storage");
  }
  const scheme = url.protocol.replace(/:$/, "");
  if (!(SCHEMES as readonly string[]).includes(scheme)) {
    throw new AppError(`${flag}: Litestream cannot replicate to ${scheme}:// URLs`, `use one of ${SCHEMES.map((s) => `${s}://`).join(", ")}`);
  }
  if (url.password) {
    throw new AppError(
      `${flag} carries a password; copilot-api neither stores nor passes secrets in URLs`,
      "give credentials through the environment instead: LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY (or AWS_*) for S3-compatible stores",
    );
  }
  if (scheme === "file" && (url.host || !url.pathname || url.pathname === "/")) {
    throw new AppError(`${flag} ${clipUrl(text)} names no local folder`, "write file:///absolute/path/to/folder (three slashes)");
  }
  const fields: Record<string, string | boolean> = {};
  for (const [key, value] of url.searchParams) {
    const field = S3_FIELDS[key as keyof typeof S3_FIELDS];
    if (scheme !== "s3" || !field) {
      throw new AppError(`${flag}: unknown URL parameter ${clipUrl(key)}`, `s3:// URLs accept ${Object.keys(S3_FIELDS).join(", ")}; other URLs take none`);
    }
    fields[field] = field === "force-path-style" || field === "skip-verify" ? value !== "false" : value;
  }
  url.search = "";
  const display = `${scheme}://${url.username ? `${url.username}@` : ""}${url.host}${url.pathname}`;
  return { url: url.toString(), display, fields };
}

const clipUrl = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

/**
 * Which litestream binary: $COPILOT_API_LITESTREAM, else the one the npm package
 * @flydotio/litestream brought (its per-platform package), else `litestream` on PATH.
 */
export function findLitestream(env: Record<string, string | undefined> = process.env): string {
  const chosen = env.COPILOT_API_LITESTREAM;
  if (chosen) {
    if (!existsSync(chosen))
      throw new AppError(`COPILOT_API_LITESTREAM=${clipUrl(chosen)} does not exist`, "point it at a litestream 0.3.x binary, or unset it");
    return chosen;
  }
  try {
    return Bun.resolveSync(`${PLATFORM_PACKAGE}/litestream`, import.meta.dir);
  } catch {
    // not installed beside us (a compiled binary, or another platform): look on PATH
  }
  const onPath = Bun.which("litestream");
  if (onPath) return onPath;
  throw new AppError(
    `no Litestream binary: ${PLATFORM_PACKAGE} is not installed and there is no litestream on PATH`,
    "install the npm package @flydotio/litestream beside copilot-api (the copilot-api npm package depends on it), put litestream 0.3.x on PATH, or set COPILOT_API_LITESTREAM",
  );
}

export interface ConfigOptions {
  /** How often Litestream looks at the WAL and ships what changed to the replica. */
  syncIntervalMs: number;
}

/** Litestream's YAML configuration for one database and one replica. JSON strings are YAML scalars, so every value is quoted that way. */
export function litestreamConfig(dbPath: string, target: ReplicaTarget, { syncIntervalMs }: ConfigOptions): string {
  const q = (value: string | boolean) => (typeof value === "boolean" ? String(value) : JSON.stringify(value));
  // Litestream copies the WAL to its shadow WAL every monitor interval and ships it every sync
  // interval: half of the interval each keeps the replica within one interval of the database.
  const half = Math.max(50, Math.floor(syncIntervalMs / 2));
  return [
    "# Written by copilot-api each time the server starts replicating; edits are overwritten.",
    "logging:",
    "  level: info",
    "  type: json",
    "dbs:",
    `  - path: ${q(dbPath)}`,
    `    monitor-interval: ${half}ms`,
    "    replicas:",
    `      - url: ${q(target.url)}`,
    `        sync-interval: ${half}ms`,
    ...Object.entries(target.fields).map(([key, value]) => `        ${key}: ${q(value)}`),
    "",
  ].join("\n");
}
