import { randomBytes } from "node:crypto";
import { eq, lte, sql } from "drizzle-orm";
import { type AppDatabase, preparedFor, rowsChanged } from "~/db";
import { keys, sessions } from "~/db/schema";

/** Every query on the sessions table lives here (its PostgreSQL twin in pg.ts). */

/** Sliding expiry: a session lives 8 hours past its last use. */
export const SESSION_TTL_MS = 8 * 3_600_000;
/** The expiry moves at most once a minute per session, so a page's burst of requests writes once. */
export const SLIDE_STEP_MS = 60_000;

/** 256 random bits, base64url: the cookie's value. Never stored; only its SHA-256 is. */
export const newSessionId = () => randomBytes(32).toString("base64url");
export const SESSION_ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;
export const hashSessionId = (id: string) => new Bun.CryptoHasher("sha256").update(id).digest("hex");

/** A session with what is needed to judge it: its own expiry and its key's state. */
export interface SessionRow {
  idHash: string;
  keyId: string;
  expiresAt: number;
  keyLabel: string;
  keyTier: string;
  keyRevokedAt: number | null;
  keyExpiresAt: number | null;
}

/** The columns of a SessionRow, from either dialect's sessions and keys tables. */
export function sessionColumns<
  S extends Record<"idHash" | "keyId" | "expiresAt", unknown>,
  K extends Record<"label" | "tier" | "revokedAt" | "expiresAt", unknown>,
>(
  session: S,
  key: K,
): {
  idHash: S["idHash"];
  keyId: S["keyId"];
  expiresAt: S["expiresAt"];
  keyLabel: K["label"];
  keyTier: K["tier"];
  keyRevokedAt: K["revokedAt"];
  keyExpiresAt: K["expiresAt"];
} {
  return {
    idHash: session.idHash,
    keyId: session.keyId,
    expiresAt: session.expiresAt,
    keyLabel: key.label,
    keyTier: key.tier,
    keyRevokedAt: key.revokedAt,
    keyExpiresAt: key.expiresAt,
  };
}

const byHash = preparedFor((db) =>
  db
    .select(sessionColumns(sessions, keys))
    .from(sessions)
    .innerJoin(keys, eq(keys.id, sessions.keyId))
    .where(eq(sessions.idHash, sql.placeholder("idHash")))
    .prepare(),
);

/** What a key must be to open or keep a session: an admin key, not revoked, not expired. */
export const isActiveAdmin = (key: { tier: string; revokedAt: number | null; expiresAt: number | null }, now: number) =>
  key.tier === "admin" && key.revokedAt === null && (key.expiresAt === null || key.expiresAt > now);

/** The sessions table as the dashboard uses it, whatever the store. */
export interface SessionStore {
  find(idHash: string): Promise<SessionRow | undefined>;
  /** A new session of `keyId`, expiring SESSION_TTL_MS from now; expired ones are purged first. */
  open(idHash: string, keyId: string, now: number): Promise<void>;
  extend(idHash: string, expiresAt: number): Promise<void>;
  delete(idHash: string): Promise<void>;
  /** Ends every session a key opened; how many ended. */
  deleteOfKey(keyId: string): Promise<number>;
}

export function sqliteSessions(db: AppDatabase): SessionStore {
  return {
    find: async (idHash) => sessionByHash(db, idHash),
    open: async (idHash, keyId, now) => {
      deleteExpiredSessions(db, now);
      insertSession(db, idHash, keyId, now);
    },
    extend: async (idHash, expiresAt) => extendSession(db, idHash, expiresAt),
    delete: async (idHash) => deleteSession(db, idHash),
    deleteOfKey: async (keyId) => deleteSessionsOfKey(db, keyId),
  };
}

const sessionByHash = (db: AppDatabase, idHash: string): SessionRow | undefined => byHash(db).get({ idHash });

function insertSession(db: AppDatabase, idHash: string, keyId: string, now: number): void {
  db.insert(sessions)
    .values({ idHash, keyId, createdAt: now, expiresAt: now + SESSION_TTL_MS })
    .run();
}

function extendSession(db: AppDatabase, idHash: string, expiresAt: number): void {
  db.update(sessions).set({ expiresAt }).where(eq(sessions.idHash, idHash)).run();
}

function deleteSession(db: AppDatabase, idHash: string): void {
  db.delete(sessions).where(eq(sessions.idHash, idHash)).run();
}

/** Ends every session a key opened (it was revoked, expired, or is no longer an admin key). */
/** Returns how many sessions ended (the audit log says so). */
function deleteSessionsOfKey(db: AppDatabase, keyId: string): number {
  return rowsChanged(db.delete(sessions).where(eq(sessions.keyId, keyId)).run());
}

function deleteExpiredSessions(db: AppDatabase, now: number): void {
  db.delete(sessions).where(lte(sessions.expiresAt, now)).run();
}
