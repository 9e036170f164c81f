/**
 * Copilot's usage windows, live: since 2026-04-20 Copilot throttles by a ~5-hour session
 * window and a weekly window, and says where each stands on every answer in headers like
 * `x-usage-ratelimit-weekly: ent=0&ov=0.0&ovPerm=false&rem=99.6&rst=2026-04-22T14%3A30%3A56Z`
 * (`rem` percent remaining, `rst` the reset time). An exhausted window answers 429 with a code
 * naming it (`user_weekly_rate_limited`) and Retry-After. One CopilotWindows per Copilot seat.
 */

/** The headers read, by the name the reports use. */
const HEADERS = {
  session: "x-usage-ratelimit-session",
  weekly: "x-usage-ratelimit-weekly",
  premiumInteractions: "x-quota-snapshot-premium_interactions",
  premiumModels: "x-quota-snapshot-premium_models",
  chat: "x-quota-snapshot-chat",
} as const;
export type WindowName = keyof typeof HEADERS;
const WINDOW_HEADERS = Object.entries(HEADERS) as [WindowName, string][];
/** The windows that throttle (and that --reserve-window keeps a share of). */
const THROTTLING: readonly WindowName[] = ["session", "weekly"];

export interface WindowState {
  /** Percent remaining (rem). */
  remainingPercent: number;
  /** When it resets (rst), Unix ms; null when not said. */
  resetsAt: number | null;
  /** Entitlement and overage as Copilot says them (ent, ov, ovPerm). */
  entitlement: number | null;
  overage: number | null;
  overagePermitted: boolean | null;
  /** When this was read from an answer, Unix ms. */
  seenAt: number;
}

/** Parses one header value; undefined when it carries no `rem`. */
export function parseWindowHeader(value: string, seenAt: number): WindowState | undefined {
  const fields = new URLSearchParams(value);
  const rem = Number(fields.get("rem"));
  if (fields.get("rem") === null || !Number.isFinite(rem)) return undefined;
  const rst = Date.parse(fields.get("rst") ?? "");
  const num = (name: string) => {
    const n = Number(fields.get(name));
    return fields.get(name) !== null && Number.isFinite(n) ? n : null;
  };
  const ovPerm = fields.get("ovPerm");
  return {
    remainingPercent: rem,
    resetsAt: Number.isNaN(rst) ? null : rst,
    entitlement: num("ent"),
    overage: num("ov"),
    overagePermitted: ovPerm === null ? null : ovPerm === "true",
    seenAt,
  };
}

/** A 429's error code naming a window: `user_weekly_rate_limited`, `user_session_rate_limited`. */
const WINDOW_CODE = /^user_(session|weekly)_rate_limited$/;
/** Without Retry-After or a reset time: try again after this long. */
const DEFAULT_CLOSED_MS = 60_000;
/** While a window is exhausted, one request a minute is let through to see whether it reopened. */
export const PROBE_EVERY_MS = 60_000;

/** Answers Copilot refused because a window was exhausted: the pipeline tags their events. */
const windowRefusals = new WeakSet<Response>();
export const isWindowRefusal = (response: Response) => windowRefusals.has(response);

/** Why the gateway answers a request itself: the window, until when, and whether it is only the admins' reserve. */
export interface WindowClosed {
  window: "session" | "weekly";
  until: number;
  /** True: not exhausted, but inside the share --reserve-window keeps for admin keys. */
  reserved: boolean;
  remainingPercent: number;
}

export class CopilotWindows {
  readonly states = new Map<WindowName, WindowState>();
  /** A window Copilot refused for, until its reset. */
  exhausted: { window: "session" | "weekly"; until: number; code: string } | null = null;
  private lastProbeAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly now: () => number = Date.now) {}

  /** Each header's last value: an answer saying the same again only moves its seenAt (no parse on the hot path). */
  private readonly lastValues = new Map<WindowName, string>();

  /**
   * Reads an answer's window headers; a 429 naming a window closes it until Retry-After (or its
   * reset). Synchronous unless the answer is a 429, whose body is read (a promise then).
   */
  observe(response: Response): Promise<void> | undefined {
    const now = this.now();
    for (const [name, header] of WINDOW_HEADERS) {
      const value = response.headers.get(header);
      if (!value) continue;
      const known = this.states.get(name);
      if (known && this.lastValues.get(name) === value) {
        known.seenAt = now;
        continue;
      }
      const state = parseWindowHeader(value, now);
      if (!state) continue;
      this.states.set(name, state);
      this.lastValues.set(name, value);
    }
    if (response.status === 429) return this.observeRefusal(response, now);
    if (response.ok && this.exhausted) this.exhausted = null; // the probe passed: the window reopened
    return undefined;
  }

  private async observeRefusal(response: Response, now: number): Promise<void> {
    const code = await errorCode(response);
    const match = code?.match(WINDOW_CODE);
    if (!match) return;
    const window = match[1] as "session" | "weekly";
    const seconds = Number(response.headers.get("retry-after"));
    const until = Number.isFinite(seconds) && seconds > 0 ? now + seconds * 1000 : (this.states.get(window)?.resetsAt ?? now + DEFAULT_CLOSED_MS);
    this.exhausted = { window, until, code: code! };
    this.lastProbeAt = now;
    windowRefusals.add(response);
  }

  /**
   * Whether the gateway answers a request itself: a window Copilot said is exhausted, until its
   * reset (one request a minute still goes, as a probe); or, for a client key, a window below
   * the `reservePercent` admin keys keep. Undefined: send it.
   */
  closed(admin: boolean, reservePercent: number): WindowClosed | undefined {
    const now = this.now();
    if (this.exhausted) {
      if (now >= this.exhausted.until) this.exhausted = null;
      else if (now - this.lastProbeAt >= PROBE_EVERY_MS) this.lastProbeAt = now;
      else return { window: this.exhausted.window, until: this.exhausted.until, reserved: false, remainingPercent: 0 };
    }
    if (admin || reservePercent <= 0) return undefined;
    for (const window of THROTTLING) {
      const state = this.states.get(window as "session" | "weekly");
      if (!state || state.remainingPercent >= reservePercent) continue;
      if (state.resetsAt !== null && now >= state.resetsAt) continue; // reset since: Copilot will say
      return {
        window: window as "session" | "weekly",
        until: state.resetsAt ?? now + DEFAULT_CLOSED_MS,
        reserved: true,
        remainingPercent: state.remainingPercent,
      };
    }
    return undefined;
  }

  /** For reports: each window as last seen, and the exhaustion, times as ISO text. */
  report(): WindowsReport {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const windows: WindowsReport["windows"] = {};
    for (const [name, s] of this.states) windows[name] = { ...s, resetsAt: iso(s.resetsAt), seenAt: iso(s.seenAt)! };
    return { windows, exhausted: this.exhausted && { ...this.exhausted, until: iso(this.exhausted.until)! } };
  }
}

export interface WindowsReport {
  windows: Partial<Record<WindowName, Omit<WindowState, "resetsAt" | "seenAt"> & { resetsAt: string | null; seenAt: string }>>;
  exhausted: { window: string; until: string; code: string } | null;
}

/** The `error.code` (or `code`) of an error answer, read from a copy so the answer still goes to the client. */
async function errorCode(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.clone().json()) as { error?: { code?: unknown }; code?: unknown };
    const code = body.error?.code ?? body.code;
    return typeof code === "string" ? code.slice(0, 100) : undefined;
  } catch {
    return undefined;
  }
}
