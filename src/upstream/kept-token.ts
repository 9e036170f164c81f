import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { FILE_MODE, FOLDER_MODE } from "~/lib/file-modes";
import { SecretBox, secretKeyPath } from "~/lib/secret-box";
import type { UpstreamUrls } from "./config";

/** The file beside the database that keeps Copilot tokens between runs: sealed, never in clear. */
export const KEPT_TOKENS_FILE = "copilot-tokens.json";

/** A kept token closer to its end than this is not used: the first requests would outlive it. */
export const KEPT_TOKEN_MIN_LEFT_MS = 5 * 60_000;

/** A Copilot token as kept between runs; times are wall-clock Unix ms (the only clock two runs share). */
export interface KeptToken {
  token: string;
  apiUrl?: string;
  expiresAt: number;
  refreshAt: number;
}

/** One GitHub token's Copilot token, kept between runs (see CopilotToken). */
export interface TokenKeeper {
  /** The kept token if it opens and lives at least KEPT_TOKEN_MIN_LEFT_MS more; otherwise undefined. */
  load(): KeptToken | undefined;
  save(token: KeptToken): void;
}

interface Entry {
  /** SecretBox ciphertext of {token, apiUrl}, base64, bound to the entry's name. */
  sealed: string;
  expiresAt: number;
  refreshAt: number;
}

/**
 * The Copilot tokens of this store's GitHub tokens, kept in one file beside the
 * database (0600) so a restart within a token's lifetime skips the exchange.
 * Each is sealed with the store's key file (lib/secret-box.ts, as credentials
 * are) and bound to a hash of the GitHub API and GitHub token it was exchanged
 * from: another GitHub token (or a key file that does not open it) finds
 * nothing, and the next exchange replaces it. The file never holds a token in
 * clear; failing to read or write it only costs an exchange, so it is never an error.
 */
export class KeptTokens {
  private readonly path: string;
  private readonly box: SecretBox;

  constructor(
    dbPath: string,
    private readonly wallNow: () => number = Date.now,
  ) {
    this.path = join(dirname(dbPath), KEPT_TOKENS_FILE);
    this.box = new SecretBox(secretKeyPath(dbPath));
  }

  /** The keeper of the Copilot token exchanged from `githubToken` at `urls.githubApi`. */
  for(urls: UpstreamUrls, githubToken: string): TokenKeeper {
    const name = new Bun.CryptoHasher("sha256").update(`${urls.githubApi}\n${githubToken}`).digest("hex");
    const aad = `copilot-token ${name}`;
    return {
      load: () => {
        const entry = this.read()[name];
        if (!entry || entry.expiresAt - this.wallNow() < KEPT_TOKEN_MIN_LEFT_MS) return undefined;
        try {
          const { token, apiUrl } = JSON.parse(this.box.open(Buffer.from(entry.sealed, "base64"), aad)) as { token: unknown; apiUrl?: unknown };
          if (typeof token !== "string" || !token) return undefined;
          return { token, apiUrl: typeof apiUrl === "string" ? apiUrl : undefined, expiresAt: entry.expiresAt, refreshAt: entry.refreshAt };
        } catch {
          // Another key file, a damaged entry: exchange anew (and overwrite it).
          return undefined;
        }
      },
      save: (kept) => {
        try {
          const now = this.wallNow();
          const entries = Object.fromEntries(Object.entries(this.read()).filter(([, entry]) => entry.expiresAt > now));
          const sealed = this.box.seal(JSON.stringify({ token: kept.token, apiUrl: kept.apiUrl }), aad).toString("base64");
          entries[name] = { sealed, expiresAt: kept.expiresAt, refreshAt: kept.refreshAt };
          mkdirSync(dirname(this.path), { recursive: true, mode: FOLDER_MODE });
          const temporary = `${this.path}.${process.pid}.tmp`;
          writeFileSync(temporary, `${JSON.stringify(entries)}\n`, { mode: FILE_MODE });
          renameSync(temporary, this.path);
        } catch {
          // A read-only folder or a full disk: the next start exchanges, as it would have anyway.
        }
      },
    };
  }

  private read(): Record<string, Entry> {
    try {
      const parsed = JSON.parse(readFileSync(this.path, "utf8")) as unknown;
      if (!parsed || typeof parsed !== "object") return {};
      return Object.fromEntries(Object.entries(parsed).filter(([, entry]) => isEntry(entry))) as Record<string, Entry>;
    } catch {
      return {};
    }
  }
}

const isEntry = (entry: unknown): entry is Entry =>
  typeof entry === "object" &&
  entry !== null &&
  typeof (entry as Entry).sealed === "string" &&
  Number.isFinite((entry as Entry).expiresAt) &&
  Number.isFinite((entry as Entry).refreshAt);
