import { and, eq, inArray, sql } from "drizzle-orm";
import { type PgDatabase, pgTables } from "~/db/postgres";
import { type EncodedResponse, type StoredResponse, storedFromRow } from "./queries";

const { responses } = pgTables;

type Tx = Parameters<Parameters<PgDatabase["transaction"]>[0]>[0];

/**
 * A batch of encoded rows (an id already stored is left as it is), each key held to `maxKeyBytes`
 * of the database's total, whichever gateway wrote the rest. ONE statement on the common path: the
 * rows go in and their bytes are added to each key's response_bytes row (an upsert in key order,
 * so gateways writing the same keys never deadlock). A key past the cap, or counted for the first
 * time, is then counted exactly under its row's lock and, past the cap, trimmed oldest first to 90 %.
 * Returns how many responses each trimmed key lost.
 */
export async function insertResponsesPg(db: PgDatabase, rows: readonly EncodedResponse[], maxKeyBytes: number): Promise<Map<string, number>> {
  const insert = db
    .insert(responses)
    .values(rows.map(({ row }) => row))
    .onConflictDoNothing()
    .returning({ keyId: responses.keyId, bytes: sql`octet_length(${responses.body})`.as("bytes") });
  const totals = await db.execute<{ key_id: string; bytes: string; fresh: boolean }>(sql`
    WITH inserted AS (${insert.getSQL()})
    INSERT INTO response_bytes AS t (key_id, bytes)
    SELECT key_id, sum(bytes)::int8 FROM inserted GROUP BY key_id ORDER BY key_id
    ON CONFLICT (key_id) DO UPDATE SET bytes = t.bytes + excluded.bytes
    RETURNING key_id, bytes, (xmax = 0) AS fresh`);
  const trimmed = new Map<string, number>();
  for (const total of totals) {
    // A fresh count has not seen the key's responses stored before it (by an older build, or copied by migrate-to).
    if (!total.fresh && Number(total.bytes) <= maxKeyBytes) continue;
    const deleted = await db.transaction((tx) => recountKeyPg(tx, total.key_id, maxKeyBytes));
    if (deleted > 0) trimmed.set(total.key_id, deleted);
  }
  return trimmed;
}

/** The key's bytes counted exactly (the count is an upper bound: deletes do not subtract); past the cap its oldest go, down to 90 %. */
async function recountKeyPg(tx: Tx, keyId: string, maxKeyBytes: number): Promise<number> {
  // Under the count's row lock: another gateway writing or trimming this key waits, so no two trim at once.
  await tx.execute(sql`SELECT 1 FROM response_bytes WHERE key_id = ${keyId} FOR UPDATE`);
  const [exact] = await tx.execute<{ bytes: string }>(sql`SELECT coalesce(sum(octet_length(body)), 0) AS bytes FROM responses WHERE key_id = ${keyId}`);
  let bytes = Number(exact?.bytes ?? 0);
  let deleted = 0;
  if (bytes > maxKeyBytes) {
    // Down to 90 %, so a key at its cap is not trimmed again on every write; the newest are kept, as on SQLite.
    const keep = Math.floor(maxKeyBytes * 0.9);
    const gone = await tx.execute<{ bytes: string }>(sql`
      DELETE FROM responses WHERE id IN (
        SELECT id FROM (
          SELECT id, sum(octet_length(body)) OVER (ORDER BY created_at DESC, id DESC) AS running FROM responses WHERE key_id = ${keyId}
        ) newest_first WHERE running > ${keep})
      RETURNING octet_length(body) AS bytes`);
    deleted = gone.length;
    for (const row of gone) bytes -= Number(row.bytes);
  }
  await tx.execute(sql`UPDATE response_bytes SET bytes = ${bytes} WHERE key_id = ${keyId}`);
  return deleted;
}

/** Links read ahead of a chain's walk at most: a longer chain is cut there. */
const CHAIN_ROWS = 10_000;

/**
 * The chain ending at `id`, newest first, in one round trip (a recursive query following
 * previous_response_id), stopping once the stored bodies pass `budgetBytes`: what the
 * synchronous walk (expandChain) then reads from memory. Stored bytes are at most the JSON
 * the walk counts, so it stops no earlier than the walk would.
 */
export async function chainPg(db: PgDatabase, id: string, budgetBytes: number): Promise<StoredResponse[]> {
  const budget = Number.isFinite(budgetBytes) ? Math.max(0, Math.floor(budgetBytes)) : Number.MAX_SAFE_INTEGER;
  const found = await db.execute<{ id: string }>(sql`
    WITH RECURSIVE chain(id, previous, total, depth) AS (
      SELECT id, previous_response_id, length(body)::bigint, 1 FROM responses WHERE id = ${id}
      UNION ALL
      SELECT r.id, r.previous_response_id, chain.total + length(r.body), chain.depth + 1
      FROM responses r JOIN chain ON r.id = chain.previous
      WHERE chain.total <= ${budget} AND chain.depth < ${CHAIN_ROWS}
    )
    SELECT id FROM chain`);
  if (found.length === 0) return [];
  const rows = await db
    .select()
    .from(responses)
    .where(
      inArray(
        responses.id,
        found.map((row) => row.id),
      ),
    );
  return rows.map(storedFromRow);
}

/** Deletes the response if this key owns it; whether one went. */
export async function deleteResponsePg(db: PgDatabase, id: string, keyId: string): Promise<boolean> {
  const gone = await db
    .delete(responses)
    .where(and(eq(responses.id, id), eq(responses.keyId, keyId)))
    .returning({ id: responses.id });
  return gone.length > 0;
}
