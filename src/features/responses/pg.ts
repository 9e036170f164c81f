import { and, eq, inArray, sql } from "drizzle-orm";
import { type PgDatabase, pgTables } from "~/db/postgres";
import { type EncodedResponse, type StoredResponse, storedFromRow } from "./queries";

const { responses } = pgTables;

/** A batch of encoded rows in one INSERT; an id already stored is left as it is. */
export async function insertResponsesPg(db: PgDatabase, rows: readonly EncodedResponse[]): Promise<void> {
  await db
    .insert(responses)
    .values(rows.map(({ row }) => row))
    .onConflictDoNothing();
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
