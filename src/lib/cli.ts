import { AppError, describeError } from "./errors";
import { log } from "./log";

type Env = Record<string, string | undefined>;

/**
 * Where a command reads its environment and stdin and writes its result: the
 * process's own for the binary; a test passes its own (citty's `data`) to run
 * the command tree in-process. Log lines go to the log (stderr) either way.
 */
export interface CliIo {
  env: Env;
  /** One line (or block) of the command's result on stdout. */
  print: (text: string) => void;
  stdin: () => Promise<string>;
  /** Ends the command with this exit code. */
  exit: (code: number) => never;
}

export const processIo: CliIo = {
  env: process.env,
  print: (text) => console.log(text),
  stdin: () => Bun.stdin.text(),
  exit: (code) => process.exit(code),
};

/**
 * What an io's exit throws where the process must go on (a test's in-process
 * run): guarded lets it through, so a command's chosen exit code is not
 * mistaken for a failure.
 */
export class CliExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Prints an error the way a user can act on it, and exits non-zero. */
function exitWithError(error: unknown, io: CliIo): never {
  if (error instanceof CliExit) throw error;
  // An AppError is said in words with its remedy; anything else is a bug, shown with its stack.
  if (error instanceof AppError) log.error(describeError(error, "\n  what to do: "));
  else log.error(error);
  return io.exit(1);
}

/** Wraps a command's run so every failure goes through exitWithError; the run gets the io of citty's `data`. */
export function guarded<A extends { data?: unknown }>(run: (ctx: A, io: CliIo) => unknown): (ctx: A) => Promise<void> {
  return async (ctx) => {
    const io = (ctx.data as CliIo | undefined) ?? processIo;
    try {
      await run(ctx, io);
    } catch (error) {
      exitWithError(error, io);
    }
  };
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new AppError(`--port ${value} is not a port number`, "pass a whole number from 0 to 65535 (0 picks a free port)");
  }
  return port;
}

export function parseChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new AppError(`${flag} ${value} is not one of ${choices.join(", ")}`, `pass ${flag} ${choices[0]}`);
}

export function parsePositive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new AppError(`${flag} ${value} is not a positive number`, `pass a number such as ${flag} 32`);
  return n;
}

export function parseDays(value: string, flag = "--events-retention-days"): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new AppError(`${flag} ${value} is not a whole number of days`, "pass 0 to keep everything, or e.g. 90");
  return n;
}

/** `--database-url postgres://…`: the shared PostgreSQL store instead of the SQLite file (COPILOT_API_DATABASE_URL). */
export const databaseUrlArg = {
  "database-url": {
    type: "string",
    description: "a PostgreSQL store instead of the SQLite file, shared by several gateways (default: $COPILOT_API_DATABASE_URL)",
    valueHint: "postgres://…",
  },
} as const;

/** The PostgreSQL URL chosen by flag or environment, if any: without one, the SQLite file is used. */
export function databaseUrl(flag: string | undefined, env: Env): string | undefined {
  return flag || env.COPILOT_API_DATABASE_URL || undefined;
}

export const dbPathArg = {
  "db-path": {
    type: "string",
    description: "database file (default: $COPILOT_API_DB_PATH, else ~/.local/share/copilot-api/copilot-api.db)",
    valueHint: "FILE",
  },
} as const;

/** `10%` (or `10`): a share of a window, from 0 to 100. */
export function parsePercent(flag: string, value: string): number {
  const n = Number(value.trim().replace(/%$/, ""));
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 100) {
    throw new AppError(`${flag} ${value} is not a percentage from 0 to 100`, `pass e.g. ${flag} 10%`);
  }
  return n;
}
