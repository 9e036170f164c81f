import { eq, lte } from "drizzle-orm";
import { type PgDatabase, pgTables } from "~/db/postgres";
import { type EventLine, type EventPages, eventColumnsOf, exportWhere, recentWhere } from "./queries";
import { SESSION_TTL_MS, type SessionRow, type SessionStore, sessionColumns } from "./sessions";
import { newLink, type SignInLinks } from "./sign-in-link";

/*
 * The dashboard's own tables on a PostgreSQL store (--database-url): sessions, one-time links
 * and the events it pages through, with the same rows and filters as sessions.ts,
 * sign-in-link.ts and queries.ts. A session opened on one gateway is found by every other.
 */

const { sessions, signInLinks, keys, events } = pgTables;

export function pgSessions(db: PgDatabase): SessionStore {
  return {
    find: async (idHash): Promise<SessionRow | undefined> =>
      (await db.select(sessionColumns(sessions, keys)).from(sessions).innerJoin(keys, eq(keys.id, sessions.keyId)).where(eq(sessions.idHash, idHash)))[0],
    open: async (idHash, keyId, now) => {
      await db.delete(sessions).where(lte(sessions.expiresAt, now));
      await db.insert(sessions).values({ idHash, keyId, createdAt: now, expiresAt: now + SESSION_TTL_MS });
    },
    extend: async (idHash, expiresAt) => {
      await db.update(sessions).set({ expiresAt }).where(eq(sessions.idHash, idHash));
    },
    delete: async (idHash) => {
      await db.delete(sessions).where(eq(sessions.idHash, idHash));
    },
    deleteOfKey: async (keyId) => (await db.delete(sessions).where(eq(sessions.keyId, keyId)).returning({ idHash: sessions.idHash })).length,
  };
}

export function pgSignInLinks(db: PgDatabase): SignInLinks {
  return {
    create: async (keyId, now) => {
      const { token, row } = newLink(keyId, now);
      await db.delete(signInLinks).where(lte(signInLinks.expiresAt, now));
      await db.insert(signInLinks).values(row);
      return token;
    },
    take: async (tokenHash) => (await db.delete(signInLinks).where(eq(signInLinks.tokenHash, tokenHash)).returning())[0],
  };
}

export function pgEventPages(db: PgDatabase): EventPages {
  const run = async ({ where, orderBy }: ReturnType<typeof recentWhere>, limit: number): Promise<EventLine[]> =>
    db
      .select(eventColumnsOf(events))
      .from(events)
      .where(where)
      .orderBy(...orderBy)
      .limit(limit);
  return {
    recent: (filter, before, limit) => run(recentWhere(events, filter, before), limit),
    exportPage: (filter, after, limit) => run(exportWhere(events, filter, after), limit),
  };
}
