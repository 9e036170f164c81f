import { asc, count, eq, inArray } from "drizzle-orm";
import { type AppDatabase, rowsChanged } from "~/db";
import { type CredentialKind, type CredentialState, credentials, keys } from "~/db/schema";
import { randomBytes } from "~/lib/random";

/** Every query on the credentials table lives here; the CLI, the seats and the router call these by name. */
export type CredentialRow = typeof credentials.$inferSelect;

/** A credential as it may be shown: never the sealed token. */
export type CredentialView = Omit<CredentialRow, "tokenSealed">;

export const newCredentialId = () => `cred_${randomBytes(6).toString("hex")}`;

export interface NewCredential {
  id: string;
  label: string;
  kind: CredentialKind;
  githubLogin: string | null;
  plan: string | null;
  tokenSealed: Buffer;
}

export function insertCredential(db: AppDatabase, credential: NewCredential, now = Date.now()): CredentialRow {
  return db
    .insert(credentials)
    .values({ ...credential, state: "ok", stateSince: now, createdAt: now })
    .returning()
    .get();
}

/** A new token (and what it says about its account) for an existing credential; its state is ok again. */
export function replaceCredential(db: AppDatabase, credential: NewCredential, now = Date.now()): CredentialRow {
  const { id, ...rest } = credential;
  return db
    .update(credentials)
    .set({ ...rest, state: "ok", stateSince: now })
    .where(eq(credentials.id, id))
    .returning()
    .get()!;
}

export function listCredentials(db: AppDatabase): CredentialRow[] {
  return db.select().from(credentials).orderBy(asc(credentials.label)).all();
}

/** Every credential's label by id, for reports (removed credentials are absent: their id stands alone). */
export function credentialLabels(db: AppDatabase): [string, string][] {
  return db
    .select({ id: credentials.id, label: credentials.label })
    .from(credentials)
    .all()
    .map((c) => [c.id, c.label]);
}

export function credentialByLabel(db: AppDatabase, label: string): CredentialRow | undefined {
  return db.select().from(credentials).where(eq(credentials.label, label)).get();
}

export function credentialById(db: AppDatabase, id: string): CredentialRow | undefined {
  return db.select().from(credentials).where(eq(credentials.id, id)).get();
}

export function credentialsByLabels(db: AppDatabase, labels: string[]): CredentialRow[] {
  return labels.length ? db.select().from(credentials).where(inArray(credentials.label, labels)).all() : [];
}

/** A new state and since when; unchanged rows keep their `since`. */
export function setCredentialState(db: AppDatabase, id: string, state: CredentialState, now = Date.now()): void {
  const row = db.select({ state: credentials.state }).from(credentials).where(eq(credentials.id, id)).get();
  if (!row || row.state === state) return;
  db.update(credentials).set({ state, stateSince: now }).where(eq(credentials.id, id)).run();
}

/** How many keys (revoked ones included: a revoked key still names it) are bound to the credential. */
export function boundKeyCount(db: AppDatabase, id: string): number {
  return db.select({ n: count() }).from(keys).where(eq(keys.credentialId, id)).get()?.n ?? 0;
}

/** Removes the credential, first unbinding its keys; false when there was none. */
export function removeCredential(db: AppDatabase, id: string): boolean {
  db.update(keys).set({ credentialId: null }).where(eq(keys.credentialId, id)).run();
  return rowsChanged(db.delete(credentials).where(eq(credentials.id, id)).run()) === 1;
}

export function viewOf(row: CredentialRow): CredentialView {
  const { tokenSealed: _sealed, ...view } = row;
  return view;
}

/** Where the seats read their credentials: the SQLite store (queries.ts), or a PostgreSQL mirror (pg.ts). */
export interface CredentialSource {
  byId(id: string): CredentialRow | undefined;
  byLabels(labels: string[]): CredentialRow[];
  /** Persists a seat's new state (PostgreSQL: asynchronously; a failure is only logged). */
  setState(id: string, state: CredentialState): void | Promise<void>;
}

/** The seats' credentials read from the SQLite store, at each lookup. */
export const sqliteCredentials = (db: AppDatabase): CredentialSource => ({
  byId: (id) => credentialById(db, id),
  byLabels: (labels) => credentialsByLabels(db, labels),
  setState: (id, state) => setCredentialState(db, id, state),
});
