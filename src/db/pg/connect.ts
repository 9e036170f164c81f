import { DrizzleQueryError } from "drizzle-orm";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { AppError, errorMessage } from "~/lib/errors";
import * as pgSchema from "../pg-schema";

export type PgDatabase = PostgresJsDatabase<typeof pgSchema>;

export interface PgConnection {
  db: PgDatabase;
  /** The postgres.js client under Drizzle: LISTEN/NOTIFY, which Drizzle does not speak. */
  client: postgres.Sql;
  /** The URL with its password replaced, for messages and `db status`. */
  shown: string;
  close(): Promise<void>;
}

/** postgres://… or postgresql://…: what --database-url / COPILOT_API_DATABASE_URL accept. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The URL as it may be printed: never the password. */
export function showUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(an unparseable database URL)";
  }
}

/**
 * A pool of a few connections (postgres.js connects lazily), checked with one
 * round trip so a wrong URL fails here with a remedy, not at the first query.
 */
export async function connectPostgres(url: string, { max = 4 }: { max?: number } = {}): Promise<PgConnection> {
  const shown = showUrl(url);
  if (!isPostgresUrl(url)) {
    throw new AppError(`${shown} is not a PostgreSQL URL`, "pass --database-url postgres://user:password@host:5432/database (or set COPILOT_API_DATABASE_URL)");
  }
  const client = postgres(url, { max, connect_timeout: 10, onnotice: () => {} });
  const db = drizzle({ client, schema: pgSchema });
  try {
    await client`SELECT 1`;
  } catch (error) {
    await client.end({ timeout: 1 });
    throw new AppError(
      `cannot connect to ${shown}: ${errorMessage(error)}`,
      "check the URL (host, port, database, user), that the server is running, and that it accepts this user (pg_hba.conf)",
    );
  }
  return { db, client, shown, close: () => client.end({ timeout: 5 }) };
}

/** What Postgres said: Drizzle wraps it in "Failed query: <sql>", which the messages already show. */
export function pgErrorMessage(error: unknown): string {
  return error instanceof DrizzleQueryError && error.cause ? errorMessage(error.cause) : errorMessage(error);
}
