import type { Store } from "~/db";
import { cmd } from "~/lib/command-name";
import { NANO_AIU_PER_CREDIT, NANO_AIU_PER_USD } from "~/lib/credits";
import { AppError, forField } from "~/lib/errors";
import { parseModelList } from "./models";
import { type KeyRow, type KeySettings, keyById, updateKeySettings } from "./queries";

/**
 * A key's settings as a person types them: CLI flags today, a dashboard's form
 * fields tomorrow. Each is a string; absent means "leave as it is". Errors name
 * the CLI flag, and nothing is written unless every field is valid.
 */
export interface KeySettingsInput {
  label?: string;
  /** `gpt-4o,claude-*`; `*` for every model. */
  models?: string;
  /** Requests per minute, or `none`. */
  rateLimit?: string;
  /** Premium requests per calendar month (UTC), or `none`. */
  premiumQuota?: string;
  /** GitHub AI credits per calendar month (UTC): `5usd`, `500credits`, or `none`. */
  budget?: string;
  /** `30d`, `12h`, `2w`, a date (`2026-12-31`, 00:00 UTC), a date-time with its zone (`2026-12-31T18:00Z`), or `never`. */
  expires?: string;
}

/** A label is the owner's note; bounded, since a dashboard would echo it. */
export const LABEL_MAX = 200;
const RATE_LIMIT_MAX = 1_000_000;
const QUOTA_MAX = 10_000_000;
const HOUR_MS = 3_600_000;
const DURATION_UNITS: Record<string, number> = { h: HOUR_MS, d: 24 * HOUR_MS, w: 7 * 24 * HOUR_MS };
/** Later than this is a typo, not an expiry (and keeps the arithmetic well inside Date's range). */
const EXPIRES_MAX_MS = 100 * 365 * 24 * HOUR_MS;

/** `2026-11-30 18:00:00 UTC`: how the CLI and error messages say a time. */
export const utcTime = (ms: number) => `${new Date(ms).toISOString().replace("T", " ").slice(0, 19)} UTC`;

/** An expiry as it is typed back: `2026-12-31T18:00Z`, to the second when it has seconds (milliseconds dropped). */
function expiresText(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/:00Z$/, "Z");
}

/**
 * A key's current settings written the way parseKeySettings reads them (`none`,
 * `never`, `*` for the open values): what an edit form starts from, so a field
 * left as it was can be told from one that was changed.
 */
export function keySettingsText(row: KeyRow): Required<KeySettingsInput> {
  return {
    label: row.label,
    models: row.allowedModels.join(","),
    rateLimit: row.rateLimit === null ? "none" : String(row.rateLimit),
    premiumQuota: row.premiumQuota === null ? "none" : String(row.premiumQuota),
    budget: budgetText(row.budgetNanoAiu),
    expires: row.expiresAt === null ? "never" : expiresText(row.expiresAt),
  };
}

/**
 * Checks every given field and turns it into column values; throws a
 * FieldError for the first bad one: its message names the CLI flag, its
 * `field` the input (the dashboard shows it beside that input).
 */
export function parseKeySettings(input: KeySettingsInput, now = Date.now()): KeySettings {
  const settings: KeySettings = {};
  const { label, models, rateLimit, premiumQuota, budget, expires } = input;
  if (label !== undefined) settings.label = forField("label", () => parseLabel(label));
  if (models !== undefined) settings.allowedModels = forField("models", () => parseModelList(models));
  if (rateLimit !== undefined) {
    settings.rateLimit = forField("rateLimit", () => parseLimit("--rate-limit", rateLimit, RATE_LIMIT_MAX, "requests per minute", "60"));
  }
  if (premiumQuota !== undefined) {
    settings.premiumQuota = forField("premiumQuota", () => parseLimit("--premium-quota", premiumQuota, QUOTA_MAX, "premium requests per month", "300"));
  }
  if (budget !== undefined) settings.budgetNanoAiu = forField("budget", () => parseBudget(budget));
  if (expires !== undefined) settings.expiresAt = forField("expires", () => parseExpires(expires, now));
  return settings;
}

/** The largest budget accepted: $100,000 a month keeps nano-AIU sums exact in a double. */
const BUDGET_MAX_USD = 100_000;
const BUDGET_HINT = "pass an amount with its unit: --budget 5usd (US dollars), --budget 500credits (GitHub AI credits, 1 credit = $0.01), or --budget none";

/** A monthly budget in nano-AIU: `5usd`, `$5`, `2.50 usd`, `500credits`, `500 credits`; null for `none`. */
export function parseBudget(value: string): number | null {
  const text = value.trim().toLowerCase();
  if (text === "none") return null;
  const match = text.match(/^(\$)?\s*(\d+(?:\.\d+)?)\s*(usd|\$|credits?)?$/);
  const unit = match?.[1] ? "usd" : match?.[3]?.startsWith("credit") ? "credits" : match?.[3] ? "usd" : undefined;
  if (!match || !unit) throw new AppError(`--budget ${value} is not an amount with a unit`, BUDGET_HINT);
  const nano = Math.round(Number(match[2]) * (unit === "usd" ? NANO_AIU_PER_USD : NANO_AIU_PER_CREDIT));
  if (nano < 1) throw new AppError(`--budget ${value} is nothing`, `${BUDGET_HINT}; to stop a key now, revoke it`);
  if (nano > BUDGET_MAX_USD * NANO_AIU_PER_USD) {
    throw new AppError(`--budget ${value} is above the largest accepted budget, ${BUDGET_MAX_USD}usd a month`, "pass --budget none for no budget");
  }
  return nano;
}

/** A budget as it is typed back: in dollars when whole cents, else in credits. */
export function budgetText(nano: number | null): string {
  if (nano === null) return "none";
  return nano % NANO_AIU_PER_CREDIT === 0 ? `${nano / NANO_AIU_PER_USD}usd` : `${nano / NANO_AIU_PER_CREDIT}credits`;
}

function parseLabel(value: string): string {
  if (value.length > LABEL_MAX) throw new AppError(`--label is ${value.length} characters long; the limit is ${LABEL_MAX}`, "use a shorter note");
  return value;
}

/** A whole number from 1 to `max`, or `none` (no limit). */
function parseLimit(flag: string, value: string, max: number, unit: string, example: string): number | null {
  const text = value.trim();
  if (text.toLowerCase() === "none") return null;
  const n = Number(text);
  if (text === "" || !Number.isInteger(n) || n < 1) {
    throw new AppError(`${flag} ${value} is not a positive whole number of ${unit}`, `pass e.g. ${flag} ${example}, or ${flag} none for no limit`);
  }
  if (n > max) throw new AppError(`${flag} ${value} is above the largest accepted value, ${max}`, `pass ${flag} none for no limit`);
  return n;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:?\d{2})?$/i;
const EXPIRES_HINT = "pass a duration from now (12h, 30d, 2w), a date (2026-12-31, meaning 00:00 UTC), a date-time with its zone (2026-12-31T18:00Z), or never";

/** When the key stops working (Unix ms), or null for never. */
export function parseExpires(value: string, now = Date.now()): number | null {
  const text = value.trim();
  if (text.toLowerCase() === "never") return null;
  let at: number;
  const duration = text.match(/^(\d+)\s*([hdw])$/i);
  if (duration) {
    const amount = Number(duration[1]);
    if (amount < 1) throw new AppError(`--expires ${value} is no time at all`, `${EXPIRES_HINT}; to stop a key now, revoke it`);
    at = now + amount * DURATION_UNITS[duration[2]!.toLowerCase()]!;
  } else if (DATE.test(text)) {
    at = Date.parse(`${text}T00:00:00Z`);
    if (Number.isNaN(at) || new Date(at).toISOString().slice(0, 10) !== text) throw new AppError(`--expires ${value} is not a calendar date`, EXPIRES_HINT);
  } else {
    const parts = text.match(DATE_TIME);
    if (!parts) throw new AppError(`--expires ${value} is neither a duration nor a date`, EXPIRES_HINT);
    if (!parts[3]) {
      throw new AppError(
        `--expires ${value} has no time zone`,
        `add Z for UTC (${parts[1]}T${parts[2]}Z) or an offset such as +02:00, so the key stops when you mean`,
      );
    }
    at = Date.parse(`${parts[1]}T${parts[2]}${parts[3].toUpperCase()}`);
    if (Number.isNaN(at) || new Date(Date.parse(`${parts[1]}T00:00:00Z`)).toISOString().slice(0, 10) !== parts[1]) {
      throw new AppError(`--expires ${value} is not a valid date and time`, EXPIRES_HINT);
    }
  }
  if (at <= now) {
    throw new AppError(`--expires ${value} is in the past (${utcTime(at)})`, `pick a later time; to stop a key now, use \`${cmd("keys revoke ID")}\``);
  }
  if (at - now > EXPIRES_MAX_MS) throw new AppError(`--expires ${value} is more than 100 years away`, `${EXPIRES_HINT}; never means no expiry`);
  return at;
}

/**
 * Validates and applies a change of settings to an existing key, without a new
 * secret: the one code path for `keys update` and any future dashboard. Throws
 * an AppError (nothing written) for bad input, an unknown or revoked key, or
 * nothing to change. A running server sees the change from its next request.
 */
export function updateKey(store: Store, id: string, input: KeySettingsInput, now = Date.now()): { before: KeyRow; after: KeyRow } {
  const settings = changedSettings(input, now);
  return store.transaction(() => {
    const before = updatableKey(keyById(store.db, id), id);
    const after = updateKeySettings(store.db, id, settings);
    if (!after) throw new AppError(`key ${id} changed while it was being updated`, "run the command again");
    return { before, after };
  });
}

/** The settings `keys update` was given, checked; refused when there is nothing to change. */
export function changedSettings(input: KeySettingsInput, now = Date.now()): KeySettings {
  const settings = parseKeySettings(input, now);
  if (Object.keys(settings).length === 0) {
    throw new AppError("nothing to change", "pass at least one of --label, --models, --rate-limit, --premium-quota, --budget, --expires");
  }
  return settings;
}

/** The key as read before an update: refused when there is none, or it was revoked. */
export function updatableKey(before: KeyRow | undefined, id: string): KeyRow {
  if (!before) throw new AppError(`no key with id ${id}`, `list the keys with \`${cmd("keys list --all")}\``);
  if (before.revokedAt !== null) {
    throw new AppError(`key ${id} was revoked at ${utcTime(before.revokedAt)}; a revoked key stays revoked`, `create a new one with \`${cmd("keys create")}\``);
  }
  return before;
}
