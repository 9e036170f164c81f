import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "~/app-env";
import { apiError } from "~/lib/api-error";
import { errorMessage } from "~/lib/errors";
import { FILE_MODE } from "~/lib/file-modes";
import { log } from "~/lib/log";
import { textTable } from "~/lib/table";
import type { Worker } from "~/lib/worker";
import type { CopilotWindows, WindowClosed, WindowsReport } from "~/upstream/windows";

/** Each Copilot seat's windows, by name: the default GitHub token's ("default") and each credential's (its label). */
export type SeatWindows = () => { seat: string; windows: CopilotWindows }[];

/** What `quota`, /admin/quota, /healthz and the dashboard show: each seat's windows as last seen. */
export const windowsReport = (seats: SeatWindows): ({ seat: string } & WindowsReport)[] => seats().map(({ seat, windows }) => ({ seat, ...windows.report() }));

const NAMES = { session: "session (~5-hour)", weekly: "weekly" } as const;
const at = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;

function message(closed: WindowClosed, reservePercent: number): string {
  const name = NAMES[closed.window];
  if (!closed.reserved) {
    return `Copilot's ${name} usage window is exhausted for this seat; it resets at ${at(closed.until)}. copilot-api answers for Copilot until then (checking once a minute) instead of sending requests to be refused; wait for the reset, or use a key bound to another credential`;
  }
  return `Copilot's ${name} usage window has ${closed.remainingPercent}% left, and the last ${reservePercent}% is kept for admin keys (start --reserve-window); it resets at ${at(closed.until)}. Use an admin key, or wait for the reset`;
}

/**
 * Copilot's windows in front of the model routes: while the request's seat has a window
 * Copilot said is exhausted, 429 with Retry-After until its reset, in the client's protocol
 * shape, without sending (one request a minute still goes, to see it reopen); and with
 * --reserve-window N, client keys get 429 once a window has less than N% left.
 */
export function windowGate(reservePercent: number, modelRoutes: ReadonlySet<string>): MiddlewareHandler<AppEnv> {
  return async function windowGate(c, next) {
    const windows = c.get("upstream").copilot?.windows;
    if (!windows || !modelRoutes.has(c.req.path.replace(/^\/v1(?=\/)/, ""))) return next();
    const closed = windows.closed(c.get("apiKey").tier === "admin", reservePercent);
    if (!closed) return next();
    c.get("event").error = closed.reserved ? "window_reserved" : "window_exhausted";
    c.header("retry-after", String(Math.max(1, Math.ceil((closed.until - Date.now()) / 1000))));
    return apiError(c, 429, {
      message: message(closed, reservePercent),
      type: "rate_limit_error",
      code: closed.reserved ? "usage_window_reserved" : `user_${closed.window}_rate_limited`,
    });
  };
}

/** Where the running server leaves its windows for `copilot-api quota`: beside the database. */
export const windowsFileOf = (dbFile: string) => join(dirname(dbFile), "copilot-windows.json");

/** How often the running server writes its windows for `quota` (only when they changed), and at stop. */
const WRITE_EVERY_MS = 5_000;

/**
 * Leaves each seat's windows in a small file beside the database (0600), so `copilot-api quota`,
 * which runs without the server, shows them with the time they were seen.
 */
export class WindowsFile implements Worker {
  private timer: ReturnType<typeof setInterval> | undefined;
  private last = "";

  constructor(
    private readonly file: string,
    private readonly seats: SeatWindows,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.write(), WRITE_EVERY_MS);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    this.write();
  }

  private write(): void {
    const text = JSON.stringify(windowsReport(this.seats));
    if (text === this.last) return;
    try {
      const temporary = `${this.file}.tmp`;
      writeFileSync(temporary, text, { mode: FILE_MODE });
      renameSync(temporary, this.file);
      this.last = text;
    } catch (error) {
      log.warn(`could not write ${this.file} for \`copilot-api quota\`: ${errorMessage(error)}`);
    }
  }
}

/** The windows the running server last left, or undefined when none did. */
export function readWindowsFile(file: string): ({ seat: string } & WindowsReport)[] | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as ({ seat: string } & WindowsReport)[];
  } catch {
    return undefined;
  }
}

/** The windows as `quota` prints them: one line per seat and window. */
export function formatWindows(seats: ({ seat: string } & WindowsReport)[] | undefined): string {
  if (!seats) return "Copilot's usage windows: none seen yet (the running server writes them as Copilot answers)";
  const rows = seats.flatMap(({ seat, windows, exhausted }) =>
    Object.entries(windows).map(([name, w]) => [
      seat,
      name,
      String(w.remainingPercent),
      w.resetsAt ?? "-",
      w.seenAt,
      exhausted?.window === name ? `until ${exhausted.until}` : "-",
    ]),
  );
  return `Copilot's usage windows, as the running server last saw them\n${textTable(["SEAT", "WINDOW", "LEFT %", "RESETS", "SEEN", "EXHAUSTED"], rows)}`;
}
