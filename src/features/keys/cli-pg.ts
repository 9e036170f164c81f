import { and, desc, eq, gte, isNull, lt, sql } from "drizzle-orm";
import { type PgStore, pgTables } from "~/db/postgres";
import type { AuditAction } from "~/db/schema";
import { cliActor } from "~/features/audit";
import { appendAuditPg } from "~/features/audit/pg";
import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";
import type { KeySpec } from "./manage";
import { KEYS_CHANNEL } from "./pg";
import { monthOf } from "./premium-quota";
import { type KeyRow, keyView } from "./queries";
import { generateSecret, hashSecret, newKeyId } from "./secret";
import { changedSettings, type KeySettingsInput, updatableKey } from "./settings";

/**
 * `keys create/list/revoke --database-url`: the same rows and audit entries as on SQLite,
 * written to the shared PostgreSQL store, and a NOTIFY so every gateway sees the change at once.
 */

const { keys, usageHourly } = pgTables;
type Tx = Parameters<Parameters<PgStore["db"]["transaction"]>[0]>[0];

const audit = (tx: Tx, action: AuditAction, target: string, before: KeyRow | undefined, after: KeyRow) =>
  appendAuditPg(tx, { action, ...cliActor(), target, before: before ? keyView(before) : null, after: keyView(after) });

/** `--credential LABEL|none` as the id it names, read in the transaction (the Postgres half of credentials, loaded only here). */
async function credentialIdOf(tx: Tx, label: string | undefined): Promise<{ credentialId?: string | null }> {
  if (label === undefined) return {};
  const { credentialIdPg } = await import("~/features/credentials/pg");
  return { credentialId: await credentialIdPg(tx, label) };
}

/** `keys create --database-url` (bound to `credential`'s seat when given): the row and its audit entry in one transaction, then a NOTIFY. */
export async function createKeyPg(pg: PgStore, spec: KeySpec, credential?: string, now = Date.now()): Promise<{ row: KeyRow; secret: string }> {
  const secret = generateSecret();
  const row = await pg.db.transaction(async (tx) => {
    const [created] = await tx
      .insert(keys)
      .values({ id: newKeyId(), hash: hashSecret(secret), ...spec, ...(await credentialIdOf(tx, credential)), createdAt: now })
      .returning();
    await audit(tx, "key.created", created!.id, undefined, created!);
    return created!;
  });
  await pg.notify(KEYS_CHANNEL);
  return { row, secret };
}

export async function revokeKeyPg(pg: PgStore, id: string, now = Date.now()): Promise<void> {
  await pg.db.transaction(async (tx) => {
    const [before] = await tx.select().from(keys).where(eq(keys.id, id));
    if (!before) throw new AppError(`no key with id ${id}`, `list the keys with \`${cmd("keys list --all --database-url …")}\``);
    const [after] = await tx
      .update(keys)
      .set({ revokedAt: now })
      .where(and(eq(keys.id, id), isNull(keys.revokedAt)))
      .returning();
    if (!after) throw new AppError(`key ${id} was already revoked`, `nothing to do; \`${cmd("keys list --database-url …")}\` shows the active keys`);
    await audit(tx, "key.revoked", id, before, after);
  });
  // Every gateway reloads its keys now (and within a second without it).
  await pg.notify(KEYS_CHANNEL);
}

/** `keys update --database-url`: the same checks as on SQLite (`--credential` alone is a change too), the row and its audit entry in one transaction, then a NOTIFY. */
export async function updateKeyPg(pg: PgStore, id: string, input: KeySettingsInput, credential?: string): Promise<KeyRow> {
  const onlyCredential = credential !== undefined && Object.values(input).every((value) => value === undefined);
  const settings = onlyCredential ? {} : changedSettings(input);
  const after = await pg.db.transaction(async (tx) => {
    const [found] = await tx.select().from(keys).where(eq(keys.id, id)).for("update");
    const before = updatableKey(found, id);
    const [updated] = await tx
      .update(keys)
      .set({ ...settings, ...(await credentialIdOf(tx, credential)) })
      .where(eq(keys.id, id))
      .returning();
    await audit(tx, "key.updated", id, before, updated!);
    return updated!;
  });
  await pg.notify(KEYS_CHANNEL);
  return after;
}

/** What each key (or only `keyId`) used this calendar month (UTC): premium requests and nano-AIU spent. */
async function monthUsePg(pg: PgStore, now: number, keyId?: string): Promise<{ premium: Map<string, number>; spent: Map<string, number> }> {
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
  const query = pg.db.select().from(keys).orderBy(desc(keys.createdAt));
  const rows = await (includeRevoked ? query : query.where(isNull(keys.revokedAt)));
  return { rows, ...(await monthUsePg(pg, now)) };
}

/** `keys show --database-url`: one key (revoked too) and what it used this calendar month; undefined when there is none. */
export async function showKeyPg(
  pg: PgStore,
  id: string,
  now = Date.now(),
): Promise<{ row: KeyRow | undefined; premium: Map<string, number>; spent: Map<string, number> }> {
  const [row] = await pg.db.select().from(keys).where(eq(keys.id, id));
  return { row, ...(await monthUsePg(pg, now, id)) };
}
