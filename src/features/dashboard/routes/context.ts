import type { Context, MiddlewareHandler } from "hono";
import { type AuditEntry, httpActor } from "~/features/audit";
import type { EventRecorder } from "~/features/events";
import type { QuotaSource, SeatWindows } from "~/features/quota";
import { clip } from "~/lib/clip";
import { requireSession } from "../auth";
import type { DashboardEnv } from "../env";
import type { AdminStore } from "../store";

export interface DashboardDeps {
  /** The admin plane's store: SQLite's queries or their PostgreSQL twins. */
  store: AdminStore;
  /** Copilot's own counters; absent without a GitHub token. */
  quota?: QuotaSource;
  /** Each Copilot seat's session and weekly windows, as their answers said them. */
  windows?: SeatWindows;
  /** Wall clock, Unix ms: session expiry and windows (tests move it past a session's expiry). */
  now?: () => number;
  /** Where failed sign-ins are recorded as events (capped per minute, always counted). */
  recorder?: EventRecorder;
}

/** What every page module of the dashboard shares: the store, the clock, the session guards and the audit log. */
export interface Dashboard {
  deps: DashboardDeps;
  store: AdminStore;
  now: () => number;
  /** A page: without a session, the browser goes to the sign-in page. */
  page: MiddlewareHandler<DashboardEnv>;
  /** JSON or CSV: without a session, 401 with the remedy. */
  data: MiddlewareHandler<DashboardEnv>;
  /** Every admin action here goes in the audit log, with the actor's key, address and User-Agent. */
  audit(c: Context, actor: { kind: "session" | "key"; id: string }, entry: Omit<AuditEntry, "actorKind" | "actor">): Promise<void>;
}

export function dashboardOf(deps: DashboardDeps): Dashboard {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  return {
    deps,
    store,
    now,
    page: requireSession(store, now, "page"),
    data: requireSession(store, now, "data"),
    audit: (c, actor, entry) => store.audit.append({ ...httpActor(c, actor.kind, actor.id), ts: now(), ...entry }),
  };
}

/** The signed-in key, as the actor of what a session does. */
export const bySession = (c: Context<DashboardEnv>) => ({ kind: "session" as const, id: c.get("session").keyId });

/** The signed-in key as the audit log names the actor of a key change. */
export const sessionActor = (c: Context<DashboardEnv>) => httpActor(c, "session", c.get("session").keyId);

/** Query values are the client's: bounded before use. An empty value means "no filter". */
export function queryValue(c: Context, name: string, max = 256): string | undefined {
  const value = c.req.query(name);
  return value ? clip(value, max) : undefined;
}

/** A form field's text (a file upload counts as nothing). */
export const text = (value: unknown) => (typeof value === "string" ? value : "");

/** The shape of a key id, checked before it reaches a query or a notice. */
export const KEY_ID = /^key_[0-9A-Za-z]{10}$/;
