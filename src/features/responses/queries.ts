import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { preparedFor, rowsChanged, type Store } from "~/db";
import { RESPONSE_STATUSES, responses } from "~/db/schema";
import { decodeSized, encodeJson, jsonOf } from "./codec";

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
  /** The credential (Copilot seat) that answered; a pooled conversation continues on it. */
  credentialId?: string | null;
  /** The input items this request gave (not the expanded chain). */
  input: unknown[];
  /** The Response object, as answered. */
  response: Record<string, unknown>;
  /** The JSON size of `{ input, response }` in bytes, once known (read back, or measured when expanding a chain). */
  bodyBytes?: number;
  /** Set when the response was too large to keep: its body was this many bytes, and only this note is stored. */
  omittedBytes?: number;
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
      credentialId: sql.placeholder("credentialId"),
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

/** A row as written: the response's body, or only a note of its size when it is past `maxBytes`. */
export interface EncodedResponse {
  row: typeof responses.$inferInsert;
  /** Bytes the row's body takes in the table. */
  storedBytes: number;
  /** The body's JSON size when it was too large to keep. */
  omittedBytes?: number;
}

/** Encodes (maybe compresses) a response's body; past `maxBytes` of JSON it keeps only a note saying how large it was. */
export function encodeResponse(r: StoredResponse, maxBytes: number): EncodedResponse {
  const json = jsonOf({ input: r.input, response: r.response });
  const omitted = json.length > maxBytes ? json.length : undefined;
  const { encoding, body } = encodeJson(omitted === undefined ? json : jsonOf({ input: [], response: { id: r.id }, omittedBytes: omitted }));
  const row = {
    id: r.id,
    keyId: r.keyId,
    model: r.model,
    createdAt: r.createdAt,
    status: r.status,
    previousResponseId: r.previousResponseId,
    credentialId: r.credentialId ?? null,
    encoding,
    body,
  };
  return { row, storedBytes: body.length, omittedBytes: omitted };
}

/** A batch of encoded rows (in the caller's transaction). An id already stored is left as it is. */
export function insertResponses(store: Store, rows: readonly EncodedResponse[]): void {
  const insert = insertRow(store.db);
  for (const { row } of rows) insert.run(row);
}

/** The stored response with this id, whoever owns it; undefined if there is none. */
export function responseById(store: Store, id: string): StoredResponse | undefined {
  const row = rowById(store.db).get({ id });
  return row && storedFromRow(row);
}

/** A row read back (either dialect) as the response it stores. */
export function storedFromRow(row: typeof responses.$inferSelect): StoredResponse {
  const { value, bytes } = decodeSized(row.encoding, row.body);
  const { input, response, omittedBytes } = value as { input: unknown[]; response: Record<string, unknown>; omittedBytes?: number };
  return {
    id: row.id,
    keyId: row.keyId,
    model: row.model,
    createdAt: row.createdAt,
    status: row.status,
    previousResponseId: row.previousResponseId,
    input,
    response,
    bodyBytes: bytes,
    ...(omittedBytes === undefined ? {} : { omittedBytes }),
    ...(row.credentialId === null ? {} : { credentialId: row.credentialId }),
  };
}

/** Bytes the key's stored responses take in the table. */
export function storedBytesOf(store: Store, keyId: string): number {
  const row = store.db
    .select({ bytes: sql<number>`coalesce(sum(length(${responses.body})), 0)` })
    .from(responses)
    .where(eq(responses.keyId, keyId))
    .get();
  return row?.bytes ?? 0;
}

/** Deletes the key's oldest responses until what is left takes at most `keepBytes`; returns what is left and how many went. */
export function trimKey(store: Store, keyId: string, keepBytes: number): { bytes: number; deleted: number } {
  const rows = store.db
    .select({ id: responses.id, bytes: sql<number>`length(${responses.body})` })
    .from(responses)
    .where(eq(responses.keyId, keyId))
    .orderBy(desc(responses.createdAt), desc(responses.id))
    .all();
  let kept = 0;
  const drop: string[] = [];
  for (const row of rows) {
    if (drop.length === 0 && kept + row.bytes <= keepBytes) kept += row.bytes;
    else drop.push(row.id);
  }
  for (let i = 0; i < drop.length; i += 500)
    store.db
      .delete(responses)
      .where(inArray(responses.id, drop.slice(i, i + 500)))
      .run();
  return { bytes: kept, deleted: drop.length };
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
