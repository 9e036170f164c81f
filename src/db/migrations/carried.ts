import type { Database } from "bun:sqlite";
import { embeddedMigrations } from "./embedded" with { type: "macro" };
import { LEDGER_TABLE } from "./ledger-name";

/** sha256 of a migration file with line endings normalised: what the ledger records. */
export const migrationHash = (sql: string) => new Bun.CryptoHasher("sha256").update(sql.replace(/\r\n/g, "\n")).digest("hex");

/**
 * The boot's quick look, before anything of the runner is loaded: true when the
 * database is at this build's newest schema (user_version) and its ledger records
 * every migration exactly as this build carries it (tag and sha256), i.e. when the
 * full plan would find nothing to apply and nothing to refuse. Anything else
 * (pending, newer, modified, no ledger, another migrations folder in
 * COPILOT_API_MIGRATIONS_DIR) is false: the runner then plans, refuses or applies.
 */
export function carriedIsCurrent(sqlite: Database, env: Record<string, string | undefined> = process.env): boolean {
  if (env.COPILOT_API_MIGRATIONS_DIR) return false;
  const carried = embeddedMigrations();
  const version = sqlite.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version ?? 0;
  if (version !== carried.length || version === 0) return false;
  const ledger = new Map(ledgerRows(sqlite).map((row) => [row.version, row]));
  return carried.every((migration, index) => {
    const row = ledger.get(index + 1);
    return row?.tag === migration.tag && row.sha256 === migrationHash(migration.sql);
  });
}

/**
 * The ledger's rows in plain SQL, not through its Drizzle declaration (./ledger.ts): the quick look runs on
 * every boot, before Drizzle is loaded. Should the ledger not read as expected, nothing is current: the runner,
 * which reads it through the declaration, then decides.
 */
function ledgerRows(sqlite: Database): { version: number; tag: string; sha256: string }[] {
  try {
    return sqlite.query<{ version: number; tag: string; sha256: string }, []>(`SELECT version, tag, sha256 FROM ${LEDGER_TABLE}`).all();
  } catch {
    return [];
  }
}
