import { and, asc, count, eq, inArray, ne } from "drizzle-orm";
import { type PgStore, pgTables } from "~/db/postgres";
import type { CredentialState } from "~/db/schema";
import { cliActor } from "~/features/audit";
import { appendAuditPg } from "~/features/audit/pg";
import { KEYS_CHANNEL } from "~/features/keys/pg";
import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";
import { dbPath } from "~/lib/paths";
import { Reloading } from "~/lib/reloading";
import type { Worker } from "~/lib/worker";
import type { UpstreamUrls } from "~/upstream/config";
import { inspectToken, saidStored } from "./inspect";
import { type CredentialRow, type CredentialSource, type CredentialView, newCredentialId, viewOf } from "./queries";
import { type CredentialSpec, CredentialVault } from "./vault";

/**
 * Credentials on a PostgreSQL store several gateways share: the sealed tokens in its `credentials`
 * table, each gateway's seats reading them from an in-memory mirror (the request path stays
 * synchronous), kept current by NOTIFY and a poll, as the keys are.
 */

/** NOTIFY'd by every credential write (`credentials add/remove --database-url`): each gateway reloads its mirror. */
export const CREDENTIALS_CHANNEL = "copilot_api_credentials";

const { credentials, keys } = pgTables;
type Tx = Parameters<Parameters<PgStore["db"]["transaction"]>[0]>[0];

/**
 * The key file that seals the tokens of a PostgreSQL store: credentials.key in this machine's data
 * folder (where the SQLite store would be), never in the database. Every gateway sharing the database
 * needs the same file there: copy it (0600) to each machine, as the docs say.
 */
export const pgCredentialVault = (env: Record<string, string | undefined>) => new CredentialVault({ path: dbPath(undefined, env) });

/** Every credential in memory: what Seats reads (synchronously) on a PostgreSQL store. */
export class PgCredentialMirror implements CredentialSource, Worker {
  private byIdMap = new Map<string, CredentialRow>();
  private readonly reloads = new Reloading(() => this.load(), "credentials");

  constructor(private readonly store: PgStore) {}

  /** Loads every credential and starts listening: before the port opens, so --pool is checked against them all. */
  async open(): Promise<void> {
    await this.load();
    await this.store.listen(CREDENTIALS_CHANNEL, () => void this.reloads.reload());
  }

  byId(id: string): CredentialRow | undefined {
    return this.byIdMap.get(id);
  }

  byLabels(labels: string[]): CredentialRow[] {
    return [...this.byIdMap.values()].filter((row) => labels.includes(row.label));
  }

  /** A seat's state for every gateway and `credentials list`; unchanged rows keep their `since`. */
  async setState(id: string, state: CredentialState, now = Date.now()): Promise<void> {
    await setCredentialStatePg(this.store, id, state, now);
  }

  /** Reloads now when a key names a credential this mirror does not hold yet (added a moment ago): its first request finds the seat. */
  async knowAll(ids: Iterable<string | null>): Promise<void> {
    for (const id of ids) {
      if (id !== null && !this.byIdMap.has(id)) return this.reloads.reload();
    }
  }

  start(): void {
    this.reloads.start();
  }

  stop(): void {
    this.reloads.stop();
  }

  private async load(): Promise<void> {
    const rows = await this.store.db.select().from(credentials);
    this.byIdMap = new Map(rows.map((row) => [row.id, row]));
  }
}

async function setCredentialStatePg(pg: PgStore, id: string, state: CredentialState, now = Date.now()): Promise<void> {
  await pg.db
    .update(credentials)
    .set({ state, stateSince: now })
    .where(and(eq(credentials.id, id), ne(credentials.state, state)));
}

/** `credentials add --database-url`: the token checked, sealed and stored (a label again replaces its token), audited, then a NOTIFY. */
export async function addCredentialPg(
  pg: PgStore,
  vault: CredentialVault,
  urls: UpstreamUrls,
  spec: Omit<CredentialSpec, "githubLogin" | "plan">,
): Promise<CredentialRow> {
  const report = await inspectToken(urls, spec.token, spec.label);
  const sealedSpec = { ...spec, githubLogin: report.githubLogin, plan: report.plan };
  const row = await pg.db.transaction(async (tx) => {
    const [before] = await tx.select().from(credentials).where(eq(credentials.label, spec.label)).for("update");
    const now = Date.now();
    const sealed = vault.sealed(before?.id ?? newCredentialId(), sealedSpec);
    const [added] = before
      ? await tx
          .update(credentials)
          .set({ ...sealed, state: "ok", stateSince: now })
          .where(eq(credentials.id, sealed.id))
          .returning()
      : await tx
          .insert(credentials)
          .values({ ...sealed, state: "ok", stateSince: now, createdAt: now })
          .returning();
    await appendAuditPg(tx, { ...cliActor(), action: "credential.added", target: added!.id, before: before && viewOf(before), after: viewOf(added!) });
    return added!;
  });
  await pg.notify(CREDENTIALS_CHANNEL);
  saidStored(row, report, vault);
  return row;
}

/** Every credential row, by label, sealed token included: for `quota --database-url`, which opens each with the key file. */
export async function allCredentialsPg(pg: PgStore): Promise<CredentialRow[]> {
  return pg.db.select().from(credentials).orderBy(asc(credentials.label));
}

/** Every credential, by label, with how many keys name it (never a token). */
export async function listCredentialsPg(pg: PgStore): Promise<(CredentialView & { boundKeys: number })[]> {
  const rows = await pg.db.select().from(credentials).orderBy(asc(credentials.label));
  const bound = await pg.db
    .select({ id: keys.credentialId, n: count() })
    .from(keys)
    .where(
      inArray(
        keys.credentialId,
        rows.map((row) => row.id),
      ),
    )
    .groupBy(keys.credentialId);
  return rows.map((row) => ({ ...viewOf(row), boundKeys: bound.find((b) => b.id === row.id)?.n ?? 0 }));
}

export async function credentialByLabelPg(pg: PgStore | Tx, label: string): Promise<CredentialRow | undefined> {
  const db = "db" in pg ? pg.db : pg;
  const [row] = await db.select().from(credentials).where(eq(credentials.label, label));
  return row;
}

/** `credentials test --database-url` keeps what it found: ok, or refused. */
export const markCredentialPg = (pg: PgStore, id: string, state: CredentialState) => setCredentialStatePg(pg, id, state);

/** `credentials remove --database-url`: refused while keys are bound unless `force` (which unbinds them); audited; the number unbound. */
export async function removeCredentialPg(pg: PgStore, label: string, force: boolean): Promise<number> {
  const unbound = await pg.db.transaction(async (tx) => {
    const [row] = await tx.select().from(credentials).where(eq(credentials.label, label)).for("update");
    if (!row) throw new AppError(`no credential labelled ${label}`, `list them with \`${cmd("credentials list --database-url …")}\``);
    const [bound] = await tx.select({ n: count() }).from(keys).where(eq(keys.credentialId, row.id));
    const n = bound?.n ?? 0;
    if (n > 0 && !force) {
      throw new AppError(
        `${n} key(s) are bound to credential ${row.label}`,
        `bind them elsewhere (\`${cmd("keys update KEY --credential LABEL|none --database-url …")}\`), or pass --force to unbind them`,
      );
    }
    await tx.update(keys).set({ credentialId: null }).where(eq(keys.credentialId, row.id));
    await tx.delete(credentials).where(eq(credentials.id, row.id));
    await appendAuditPg(tx, { ...cliActor(), action: "credential.removed", target: row.id, before: viewOf(row), after: { keysUnbound: n } });
    return n;
  });
  await pg.notify(CREDENTIALS_CHANNEL);
  // Its keys were unbound: every gateway's key mirror reloads now.
  if (unbound > 0) await pg.notify(KEYS_CHANNEL);
  return unbound;
}

/** The id `--credential LABEL` names on a PostgreSQL store (none: null), or an AppError saying how to find one. */
export async function credentialIdPg(tx: Tx, label: string): Promise<string | null> {
  if (label === "none") return null;
  const row = await credentialByLabelPg(tx, label);
  if (!row) throw new AppError(`no credential labelled ${label}`, `list them with \`${cmd("credentials list --database-url …")}\`, or pass --credential none`);
  return row.id;
}
