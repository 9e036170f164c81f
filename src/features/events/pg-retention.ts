import { sql } from "drizzle-orm";
import type { PgStore } from "~/db";
import { errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { PeriodicPasses, type Worker } from "~/lib/worker";
import { HOUR_MS, hourOf } from "./queries";

const DAY_MS = 86_400_000;
/** Rows per DELETE: each batch is its own short transaction. */
const BATCH = 5000;
/** Held (per batch) by whichever gateway purges: the others skip their pass rather than purge the same rows. */
const LOCK_NAME = "copilot-api:retention";

export interface PgRetentionOptions {
  /** --events-retention-days (the hourly totals follow), --responses-retention-days, --audit-retention-days; 0 keeps them. */
  eventsDays: number;
  responsesDays: number;
  auditDays: number;
  everyMs?: number;
  /** Told after a pass that deleted rows (awaited: the pass ends once it is audited). */
  onPurged?: (run: { what: string; deleted: number; cutoff: number; days: number }) => void | Promise<void>;
}

/** A table purged by age: rows older than the cutoff, by a column of Unix milliseconds. */
interface Purge {
  what: string;
  table: string;
  column: string;
  days: number;
  /** The column's rows go by whole hours (usage_hourly keeps the hour the cutoff falls in). */
  byHour?: boolean;
}

/**
 * Retention on a PostgreSQL store several gateways share: every hour, each gateway tries to take
 * one advisory lock per batch (pg_try_advisory_xact_lock); the one that holds it purges, the
 * others skip their pass, so old rows are deleted by one gateway at a time. Also deletes the
 * quota holds of gateways that died (past their expiry).
 */
export class PgRetentionJob implements Worker {
  private stopped = false;
  private readonly purges: Purge[];
  private readonly passes: PeriodicPasses<number>;

  constructor(
    private readonly pg: PgStore,
    private readonly options: PgRetentionOptions,
  ) {
    this.purges = [
      { what: "events", table: "events", column: "ts", days: options.eventsDays },
      { what: "hourly totals", table: "usage_hourly", column: "hour", days: options.eventsDays, byHour: true },
      { what: "stored responses", table: "responses", column: "created_at", days: options.responsesDays },
      { what: "audit entries", table: "audit_log", column: "ts", days: options.auditDays },
    ].filter((purge) => purge.days > 0);
    this.passes = new PeriodicPasses((now) => this.pass(now), {
      everyMs: options.everyMs ?? HOUR_MS,
      failed: (error) => log.warn(`retention failed: ${errorMessage(error)}`),
    });
  }

  start(): void {
    this.passes.start();
  }

  /** One pass; returns how many rows it deleted (0 when another gateway holds the lock). */
  purge(now = Date.now()): Promise<number> {
    return this.passes.once(now);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.passes.stop();
  }

  private async pass(now: number): Promise<number> {
    let total = 0;
    const expired = await this.batch(sql`DELETE FROM limit_holds WHERE expires_at < ${now}`);
    if (expired === undefined) return 0;
    for (const purge of this.purges) {
      const cutoff = now - purge.days * DAY_MS;
      const before = purge.byHour ? hourOf(cutoff) : cutoff;
      const table = sql.identifier(purge.table);
      const column = sql.identifier(purge.column);
      const key = purge.table === "usage_hourly" ? sql`ctid` : sql`id`;
      let deleted = 0;
      while (!this.stopped) {
        const n = await this.batch(sql`DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE ${column} < ${before} LIMIT ${BATCH})`);
        if (n === undefined) return total; // another gateway purges now
        deleted += n;
        if (n < BATCH) break;
      }
      total += deleted;
      if (deleted > 0) {
        log.info(`retention: deleted ${deleted} ${purge.what} older than ${purge.days} days`);
        await this.options.onPurged?.({ what: purge.what, deleted, cutoff, days: purge.days });
      }
    }
    return total;
  }

  /** One DELETE under the retention lock, in its own transaction; undefined when another gateway holds the lock. */
  private batch(statement: ReturnType<typeof sql>): Promise<number | undefined> {
    return this.pg.db.transaction(async (tx) => {
      const [lock] = await tx.execute<{ locked: boolean }>(sql`SELECT pg_try_advisory_xact_lock(hashtext(${LOCK_NAME})) AS locked`);
      if (!lock?.locked) return undefined;
      const result = await tx.execute(statement);
      return result.count;
    });
  }
}
