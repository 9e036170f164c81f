import type { Store } from "~/db";
import { type AuditLog, type KeyAdmin, sqliteAuditLog, sqliteKeyAdmin } from "~/features/audit";
import { sqliteUsage, type UsageStore } from "~/features/usage";
import { type EventPages, sqliteEventPages } from "./queries";
import { type SessionStore, sqliteSessions } from "./sessions";
import { type SignInLinks, sqliteSignInLinks } from "./sign-in-link";

/**
 * What the admin plane (the dashboard, /admin/usage, /admin/events.csv, /admin/audit) reads and
 * writes, one small async port per need: on SQLite each wraps today's queries (here), on
 * PostgreSQL each has its twin in a pg module (built in compose-pg.ts), so the pages and their
 * output are the same whichever store, and whichever gateway answers.
 */
export interface AdminStore {
  sessions: SessionStore;
  links: SignInLinks;
  keys: KeyAdmin;
  usage: UsageStore;
  events: EventPages;
  audit: AuditLog;
}

export function sqliteAdminStore(store: Store): AdminStore {
  return {
    sessions: sqliteSessions(store.db),
    links: sqliteSignInLinks(store.db),
    keys: sqliteKeyAdmin(store),
    usage: sqliteUsage(store),
    events: sqliteEventPages(store.db),
    audit: sqliteAuditLog(store.db),
  };
}
