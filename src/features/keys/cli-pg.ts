import { and, desc, eq, gte, isNull, lt, sql } from "drizzle-orm";
import { type PgStore, pgTables } from "~/db/postgres";
import type { AuditAction } from "~/db/schema";
import { type AuditActor, auditPg, cliActor, type KeyAdmin } from "~/features/audit";
import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";
import type { KeySpec } from "./manage";
import { KEYS_CHANNEL } from "./pg";
import { monthOf } from "./premium-quota";
import { type KeyRow, keyView } from "./queries";
import { generateSecret, hashSecret, newKeyId, presentedHash } from "./secret";
import { changedSettings, type KeySettingsInput, updatableKey } from "./settings";

/**
 * Key changes on the shared PostgreSQL store, for `keys create/list/update/revoke --database-url`
 * and the dashboard of a gateway on it: the same rows and audit entries as on SQLite, and a
 * NOTIFY so every gateway sees the change at once.
 */

const { keys, usageHourly } = pgTables;
type Tx = Parameters<Parameters<PgStore["db"]["transaction"]>[0]>[0];

async function audit(tx: Tx, actor: AuditActor, action: AuditAction, target: string, before: KeyRow | undefined, after: KeyRow, now: number): Promise<void> {
  const { appendAuditPg } = await auditPg();
  await appendAuditPg(tx, { ts: now, action, ...actor, target, before: before ? keyView(before) : null, after: keyView(after) });
}

/** `--credential LABEL|none` as the id it names, read in the transaction (the Postgres half of credentials, loaded only here). */
async function credentialIdOf(tx: Tx, label: string | undefined): Promise<{ credentialId?: string | null }> {
  if (label === undefined) return {};
  const { credentialIdPg } = await import("~/features/credentials/pg");
  return { credentialId: await credentialIdPg(tx, label) };
}

/** Who asks, when, and the credential whose seat a key is bound to (`--credential LABEL|none`). */
interface KeyChange {
  now?: number;
  actor?: AuditActor;
  credential?: string;
}

/** `keys create --database-url` and the dashboard: the row and its audit entry in one transaction, then a NOTIFY. */
export async function createKeyPg(pg: PgStore, spec: KeySpec, change: KeyChange = {}): Promise<{ row: KeyRow; secret: string }> {
  const { now = Date.now(), actor = cliActor(), credential } = change;
  const secret = generateSecret();
  const row = await pg.db.transaction(async (tx) => {
    const [created] = await tx
      .insert(keys)
      .values({ id: newKeyId(), hash: hashSecret(secret), ...spec, ...(await credentialIdOf(tx, credential)), createdAt: now })
      .returning();
    await audit(tx, actor, "key.created", created!.id, undefined, created!, now);
    return created!;
  });
  await pg.notify(KEYS_CHANNEL);
  return { row, secret };
}

/** Revokes a key with its audit entry, then tells every gateway; `before` is undefined without such a key, `after` when it was already revoked. */
async function revokeAudited(pg: PgStore, id: string, now: number, actor: AuditActor): Promise<{ before?: KeyRow; after?: KeyRow }> {
  const changed = await pg.db.transaction(async (tx) => {
    const [before] = await tx.select().from(keys).where(eq(keys.id, id)).for("update");
    if (!before) return {};
    const [after] = await tx
      .update(keys)
      .set({ revokedAt: now })
      .where(and(eq(keys.id, id), isNull(keys.revokedAt)))
      .returning();
    if (after) await audit(tx, actor, "key.revoked", id, before, after, now);
    return { before, after };
  });
  // Every gateway reloads its keys now (and within a second without it).
  if (changed.after) await pg.notify(KEYS_CHANNEL);
  return changed;
}

export async function revokeKeyPg(pg: PgStore, id: string, now = Date.now()): Promise<void> {
  const { before, after } = await revokeAudited(pg, id, now, cliActor());
  if (!before) throw new AppError(`no key with id ${id}`, `list the keys with \`${cmd("keys list --all --database-url …")}\``);
  if (!after) throw new AppError(`key ${id} was already revoked`, `nothing to do; \`${cmd("keys list --database-url …")}\` shows the active keys`);
}

/** `keys update --database-url` and the dashboard: the same checks as on SQLite (`--credential` alone is a change too), the row and its audit entry in one transaction, then a NOTIFY. */
export async function updateKeyPg(pg: PgStore, id: string, input: KeySettingsInput, change: KeyChange = {}): Promise<{ before: KeyRow; after: KeyRow }> {
  const { now = Date.now(), actor = cliActor(), credential } = change;
  const onlyCredential = credential !== undefined && Object.values(input).every((value) => value === undefined);
  const settings = onlyCredential ? {} : changedSettings(input, now);
  const changed = await pg.db.transaction(async (tx) => {
    const [found] = await tx.select().from(keys).where(eq(keys.id, id)).for("update");
    const before = updatableKey(found, id);
    const [updated] = await tx
      .update(keys)
      .set({ ...settings, ...(await credentialIdOf(tx, credential)) })
      .where(eq(keys.id, id))
      .returning();
    await audit(tx, actor, "key.updated", id, before, updated!, now);
    return { before, after: updated! };
  });
  await pg.notify(KEYS_CHANNEL);
  return changed;
}

const listQuery = (pg: PgStore, includeRevoked: boolean) => {
  const query = pg.db.select().from(keys).orderBy(desc(keys.createdAt));
  return includeRevoked ? query : query.where(isNull(keys.revokedAt));
};

/** What each key (or only `keyId`) used this calendar month (UTC): premium requests and nano-AIU spent. */
async function usedThisMonthPg(pg: PgStore, now: number, keyId?: string): Promise<{ premium: Map<string, number>; spent: Map<string, number> }> {
  const month = monthOf(now);
  const sums = await pg.db
    .select({
      keyId: usageHourly.keyId,
      premium: sql<string>`sum(${usageHourly.premiumRequests})`,
      spent: sql<string>`sum(${usageHourly.costNanoAiu})`,
    })
    .from(usageHourly)
    .where(and(gte(usageHourly.hour, month.start), lt(usageHourly.hour, month.end), keyId === undefined ? undefined : eq(usageHourly.keyId, keyId)))
    .groupBy(usageHourly.keyId);
  return {
    premium: new Map(sums.map((s) => [s.keyId, Number(s.premium)])),
    spent: new Map(sums.map((s) => [s.keyId, Number(s.spent)])),
  };
}

/** The keys, newest first, with what each used this calendar month (UTC). */
export async function listKeysPg(
  pg: PgStore,
  includeRevoked: boolean,
  now = Date.now(),
): Promise<{ rows: KeyRow[]; premium: Map<string, number>; spent: Map<string, number> }> {
  return { rows: await listQuery(pg, includeRevoked), ...(await usedThisMonthPg(pg, now)) };
}

/** `keys show --database-url`: one key (revoked too) and what it used this calendar month; undefined when there is none. */
export async function showKeyPg(
  pg: PgStore,
  id: string,
  now = Date.now(),
): Promise<{ row: KeyRow | undefined; premium: Map<string, number>; spent: Map<string, number> }> {
  const [row] = await pg.db.select().from(keys).where(eq(keys.id, id));
  return { row, ...(await usedThisMonthPg(pg, now, id)) };
}

/** The dashboard's keys on PostgreSQL: the CLI's writes above (audit entry and NOTIFY included), as the actor who asked. */
export function pgKeyAdmin(pg: PgStore): KeyAdmin {
  const one = async (where: ReturnType<typeof eq>) => (await pg.db.select().from(keys).where(where))[0];
  return {
    list: async (includeRevoked) => listQuery(pg, includeRevoked),
    get: (id) => one(eq(keys.id, id)),
    bySecret: async (secret) => {
      const hash = presentedHash(secret);
      return hash === undefined ? undefined : one(eq(keys.hash, hash));
    },
    premiumUsedThisMonth: async (now) => (await usedThisMonthPg(pg, now)).premium,
    create: (spec, actor, now) => createKeyPg(pg, spec, { now, actor }),
    update: (id, input, actor, now) => updateKeyPg(pg, id, input, { now, actor }),
    revoke: async (id, actor, now) => {
      const { before, after } = await revokeAudited(pg, id, now, actor);
      return before && after ? { before, after } : undefined;
    },
  };
}
