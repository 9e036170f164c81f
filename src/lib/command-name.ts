import { delimiter } from "node:path";

/*
 * Hints name a command the user can run where they are: `npx copilot-api-gateway
 * auth` after npx, `copilot-api auth` once installed, `bun run cli auth` in a source
 * checkout (`npx --yes bun run cli auth` where Bun is not on PATH). The package's launcher says which
 * in COPILOT_API_INVOKED_AS; without it, running from src/ means a checkout.
 */
function program(): string {
  const said = process.env.COPILOT_API_INVOKED_AS?.trim();
  if (said && /^[\w@./ -]{1,80}$/.test(said)) return said;
  if (!/[\\/]src[\\/]lib[\\/]command-name\.ts$/.test(import.meta.path)) return "copilot-api";
  // A checkout run through `npx bun` (Node and npm only) has no bun on the user's PATH: say what works there.
  // npm and bun put node_modules/.bin (where the `bun` dependency sits) on ours: not the user's shell.
  const userPath = (process.env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => !/node_modules[\\/]\.bin[\\/]?$/.test(dir))
    .join(delimiter);
  return Bun.which("bun", { PATH: userPath }) ? "bun run cli" : "npx --yes bun run cli";
}

const invokedAs = program();

/** The command line for a subcommand, as this user would type it: cmd("keys create") → "npx copilot-api-gateway keys create". */
export const cmd = (rest: string): string => `${invokedAs} ${rest}`;
