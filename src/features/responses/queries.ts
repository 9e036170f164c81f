import { and, eq, inArray, lt, sql } from "drizzle-orm";
import { preparedFor, rowsChanged, type Store } from "~/db";
import { RESPONSE_STATUSES, responses } from "~/db/schema";
import { decodeBody, encodeBody } from "./codec";

/** Every query on the responses table lives here. */

export type StoredStatus = (typeof RESPONSE_STATUSES)[number];

/** A stored response as the gateway holds it: who owns it, what it was given, what it answered. */
export interface StoredResponse {
  id: string;
  keyId: string;
  /** The model the client asked for. */
  model: string;
  /** Unix milliseconds. */
  createdAt: number;
  status: StoredStatus;
  previousResponseId: string | null;
  /** The input items this request gave (not the expanded chain). */
  input: unknown[];
  /** The Response object, as answered. */
  response: Record<string, unknown>;
}

export const isStoredStatus = (status: unknown): status is StoredStatus => (RESPONSE_STATUSES as readonly unknown[]).includes(status);

const insertRow = preparedFor((db) =>
  db
    .insert(responses)
    .values({
      id: sql.placeholder("id"),
      keyId: sql.placeholder("keyId"),
      model: sql.placeholder("model"),
      createdAt: sql.placeholder("createdAt"),
      status: sql.placeholder("status"),
      previousResponseId: sql.placeholder("previousResponseId"),
      encoding: sql.placeholder("encoding"),
      body: sql.placeholder("body"),
    })
    .onConflictDoNothing()
    .prepare(),
);

const rowById = preparedFor((db) =>
  db
    .select()
    .from(responses)
    .where(eq(responses.id, sql.placeholder("id")))
    .prepare(),
);

/** A batch in one transaction; bodies are encoded (maybe compressed) here, off the request path. An id already stored is left as it is. */
export function insertResponses(store: Store, batch: readonly StoredResponse[]): void {
  const rows = batch.map((r) => {
    const { encoding, body } = encodeBody({ input: r.input, response: r.response });
    return { id: r.id, keyId: r.keyId, model: r.model, createdAt: r.createdAt, status: r.status, previousResponseId: r.previousResponseId, encoding, body };
  });
  store.transaction(() => {
    const insert = insertRow(store.db);
    for (const row of rows) insert.run(row);
  });
}

/** The stored response with this id, whoever owns it; undefined if there is none. */
export function responseById(store: Store, id: string): StoredResponse | undefined {
  const row = rowById(store.db).get({ id });
  if (!row) return undefined;
  const { input, response } = decodeBody(row.encoding, row.body) as { input: unknown[]; response: Record<string, unknown> };
  return {
    id: row.id,
    keyId: row.keyId,
    model: row.model,
    createdAt: row.createdAt,
    status: row.status,
    previousResponseId: row.previousResponseId,
    input,
    response,
  };
}

/** Deletes the response if this key owns it; whether one went. */
export function deleteResponse(store: Store, id: string, keyId: string): boolean {
  return (
    rowsChanged(
      store.db
        .delete(responses)
        .where(and(eq(responses.id, id), eq(responses.keyId, keyId)))
        .run(),
    ) > 0
  );
}

/** Deletes up to `limit` responses created before `cutoff`; returns how many went (the retention job's batch). */
export function deleteOldResponses(store: Store, cutoff: number, limit: number): number {
  const oldest = store.db.select({ id: responses.id }).from(responses).where(lt(responses.createdAt, cutoff)).orderBy(responses.createdAt).limit(limit);
  return rowsChanged(store.db.delete(responses).where(inArray(responses.id, oldest)).run());
}
