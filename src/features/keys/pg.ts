import { and, eq, gt, gte, lt, sql } from "drizzle-orm";
import { type PgDatabase, type PgStore, pgTables } from "~/db/postgres";
import { errorMessage } from "~/lib/errors";
import { log } from "~/lib/log";
import { Reloading } from "~/lib/reloading";
import { Reservation } from "~/lib/reservations";
import type { Worker } from "~/lib/worker";
import { CostEstimates, type SharedBudget } from "./budget";
import { type LimitCheck, monthOf } from "./premium-quota";
import type { KeyCounts, KeyRow } from "./queries";
import { type SharedRateLimiter, secondsToNextToken } from "./rate-limit";
import type { KeySource } from "./resolver";

/**
 * The keys feature on a PostgreSQL store shared by several gateways: the request path
 * stays synchronous (keys from an in-memory mirror), and what must hold across gateways
 * (a revocation, a quota, a budget) is settled in the database.
 */

/** NOTIFY'd by every key write (`keys create/update/revoke --database-url`): each gateway reloads its mirror. */
export const KEYS_CHANNEL = "copilot_api_keys";
/** How often the mirror is reloaded anyway: a write whose NOTIFY was missed (a reconnect) is seen within this. */
const POLL_MS = 1000;

/** What a key's row says that the resolver and /metrics read (last_used_at moves all the time and changes nothing). */
const fingerprintOf = (rows: KeyRow[]) =>
  JSON.stringify(
    rows.map((r) => [r.id, r.hash, r.label, r.tier, r.allowedModels, r.rateLimit, r.premiumQuota, r.budgetNanoAiu, r.expiresAt, r.revokedAt, r.credentialId]),
  );

/**
 * Every key, in memory, by hash: a KeySource for the KeyResolver, so a request's key check
 * costs a map lookup, not a round trip. Reloaded on NOTIFY (at once) and every second (the
 * fallback); the version moves only when a row changed, so the resolver's cache is kept otherwise.
 */
export class PgKeyMirror implements KeySource, Worker {
  private byHashMap = new Map<string, KeyRow>();
  private keyCounts: KeyCounts = { total: 0, active: 0 };
  private labelsById: ReadonlyMap<string, string> = new Map();
  private fingerprint = "";
  private changes = 0;
  private readonly reloads = new Reloading(() => this.load(), "keys", POLL_MS);

  constructor(
    private readonly store: PgStore,
    /** Awaited before new rows are used: the credentials mirror catches up with a credential a key is newly bound to. */
    private readonly beforeUse: (rows: KeyRow[]) => Promise<void> = async () => {},
  ) {}

  /** Loads every key and starts listening: before the port opens, so the first request sees them all. */
  async open(): Promise<void> {
    await this.load();
    await this.store.listen(KEYS_CHANNEL, () => void this.reload());
  }

  version(): number {
    return this.changes;
  }

  byHash(hash: string): KeyRow | undefined {
    return this.byHashMap.get(hash);
  }

  counts(): KeyCounts {
    return this.keyCounts;
  }

  /** Each key's label by id, revoked keys too, as of the last load: /metrics' key_label without a query per scrape. */
  labels(): ReadonlyMap<string, string> {
    return this.labelsById;
  }

  start(): void {
    this.reloads.start();
  }

  stop(): void {
    this.reloads.stop();
  }

  /** One load at a time; a reload asked for meanwhile runs once after it. */
  reload(): Promise<void> {
    return this.reloads.reload();
  }

  private async load(): Promise<void> {
    const rows: KeyRow[] = await this.store.db.select().from(pgTables.keys);
    const fingerprint = fingerprintOf(rows);
    if (fingerprint === this.fingerprint) return;
    await this.beforeUse(rows);
    this.fingerprint = fingerprint;
    this.byHashMap = new Map(rows.map((row) => [row.hash, row]));
    this.labelsById = new Map(rows.map((row) => [row.id, row.label]));
    this.keyCounts = { total: rows.length, active: rows.filter((row) => row.revokedAt === null).length };
    this.changes++;
  }
}

/** keys.last_used_at for a batch of keys in one UPDATE; never moves a time backwards. */
export function pgLastUsedWriter(db: PgDatabase): (used: Map<string, number>) => Promise<void> {
  return async (used) => {
    const values = sql.join(
      [...used].map(([id, at]) => sql`(${id}, ${at}::bigint)`),
      sql`, `,
    );
    await db.execute(sql`
      UPDATE keys SET last_used_at = v.at FROM (VALUES ${values}) AS v(id, at)
      WHERE keys.id = v.id AND (keys.last_used_at IS NULL OR keys.last_used_at < v.at)`);
  };
}

/** A hold left by a gateway that died stops counting after this long (no request runs longer). */
const HOLD_TTL_MS = 15 * 60_000;

type LimitColumn = "premiumRequests" | "costNanoAiu";

/**
 * A key's monthly --premium-quota or --budget over a shared store: in one transaction, under
 * an advisory lock per key (so two gateways never both take the last room), what the key
 * used this month (usage_hourly) plus what requests in flight hold anywhere (limit_holds) is
 * compared with the limit, and a hold inserted when it leaves room. The hold is deleted once
 * the request's event is committed (both count meanwhile: a limit is never passed that way).
 */
export class PgMonthlyLimit implements SharedBudget {
  /** What this gateway learned of each model's cost (a budget's holds use the largest). */
  readonly estimates = new CostEstimates();
  readonly now: () => number;

  constructor(
    private readonly db: PgDatabase,
    private readonly column: LimitColumn,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  take(keyId: string, limit: number, amount: number, now = this.now()): Promise<LimitCheck> {
    const { usageHourly, limitHolds } = pgTables;
    const month = monthOf(now);
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`copilot-api:limit:${this.column}:${keyId}`}))`);
      // ONE statement, so one snapshot: an event committed and its hold deleted between two reads would be counted by neither.
      const [sums] = await tx.execute<{ used: string | null; reserved: string | null }>(sql`
        SELECT (SELECT sum(${usageHourly[this.column]}) FROM ${usageHourly}
                 WHERE ${and(eq(usageHourly.keyId, keyId), gte(usageHourly.hour, month.start), lt(usageHourly.hour, month.end))}) AS used,
               (SELECT sum(${limitHolds[this.column]}) FROM ${limitHolds}
                 WHERE ${and(eq(limitHolds.keyId, keyId), gt(limitHolds.expiresAt, now))}) AS reserved`);
      const used = Number(sums?.used ?? 0);
      const reserved = Number(sums?.reserved ?? 0);
      if (used + reserved >= limit) return { used, reserved };
      const id = crypto.randomUUID();
      await tx.insert(limitHolds).values({ id, keyId, [this.column]: amount, expiresAt: now + HOLD_TTL_MS });
      return { used, reserved, hold: new Reservation({ amount }, amount, () => void this.release(id)) };
    });
  }

  /** Committed events teach the budget each model's cost (as CreditBudget learns it on SQLite). */
  committed(events: readonly { model?: string | null; upstreamModel?: string | null; costNanoAiu?: number | null }[]): void {
    if (this.column !== "costNanoAiu") return;
    for (const event of events) {
      const model = event.upstreamModel ?? event.model;
      if (model && typeof event.costNanoAiu === "number") this.estimates.observe(model, event.costNanoAiu);
    }
  }

  /** The request's event is committed: its hold goes (a failure leaves it to expire). */
  private async release(id: string): Promise<void> {
    try {
      await this.db.delete(pgTables.limitHolds).where(eq(pgTables.limitHolds.id, id));
    } catch (error) {
      log.warn(`could not release a quota hold (${errorMessage(error)}); it stops counting after ${HOLD_TTL_MS / 60_000} minutes`);
    }
  }
}

/**
 * --rate-limit across gateways: each key's token bucket is a row of rate_buckets, refilled and
 * taken from in one atomic upsert (a burst of N, then one more every 60/N seconds, as the
 * in-memory RateLimiter). Wall-clock time: a gateway whose clock lags cannot drain a bucket
 * (time never runs backwards for a bucket).
 */
export class PgRateLimiter implements SharedRateLimiter {
  constructor(
    private readonly db: PgDatabase,
    private readonly now: () => number = Date.now,
  ) {}

  async take(keyId: string, perMinute: number): Promise<number> {
    const now = this.now();
    const refilled = sql`least(${perMinute}::float8, b.tokens + greatest(0, ${now}::int8 - b.at) * ${perMinute}::float8 / 60000)`;
    const taken = await this.db.execute(sql`
      INSERT INTO rate_buckets AS b (key_id, tokens, at) VALUES (${keyId}, ${perMinute - 1}, ${now})
      ON CONFLICT (key_id) DO UPDATE SET tokens = ${refilled} - 1, at = greatest(b.at, ${now}::int8)
      WHERE ${refilled} >= 1
      RETURNING 1`);
    if (taken.length > 0) return 0;
    const [bucket] = await this.db.execute<{ tokens: number }>(sql`SELECT ${refilled} AS tokens FROM rate_buckets b WHERE key_id = ${keyId}`);
    return secondsToNextToken(Number(bucket?.tokens ?? 0), perMinute);
  }
}
