import { eq, lte } from "drizzle-orm";
import type { AppDatabase } from "~/db";
import { signInLinks } from "~/db/schema";
import { hashSessionId, newSessionId } from "./sessions";

/** A link is good for ten minutes, and for one use. */
export const LINK_TTL_MS = 10 * 60_000;

/** The sign_in_links table, whatever the store (its PostgreSQL twin in pg.ts). */
export interface SignInLinks {
  /** Stores a new link for an admin key and returns its token (only the SHA-256 is kept). */
  create(keyId: string, now: number): Promise<string>;
  /** Deletes the link's row whatever happens next (single use) and answers what it was. */
  take(tokenHash: string): Promise<{ keyId: string; expiresAt: number } | undefined>;
}

/** The row of a new link; the token itself goes to the caller only. */
export function newLink(keyId: string, now: number) {
  const token = newSessionId();
  return { token, row: { tokenHash: hashSessionId(token), keyId, createdAt: now, expiresAt: now + LINK_TTL_MS } };
}

export function createSignInLink(db: AppDatabase, keyId: string, now = Date.now()): string {
  const { token, row } = newLink(keyId, now);
  db.delete(signInLinks).where(lte(signInLinks.expiresAt, now)).run();
  db.insert(signInLinks).values(row).run();
  return token;
}

export const sqliteSignInLinks = (db: AppDatabase): SignInLinks => ({
  create: async (keyId, now) => createSignInLink(db, keyId, now),
  take: async (tokenHash) => db.delete(signInLinks).where(eq(signInLinks.tokenHash, tokenHash)).returning().get(),
});
