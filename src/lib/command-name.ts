/*
 * Hints name a command the user can run where they are: `npx copilot-api-gateway
 * auth` after npx, `copilot-api auth` once installed, `bun run cli auth` in a source
 * checkout (which has no `copilot-api` on PATH). The package's launcher says which
 * in COPILOT_API_INVOKED_AS; without it, running from src/ means a checkout.
 */
function program(): string {
  const said = process.env.COPILOT_API_INVOKED_AS?.trim();
  if (said && /^[\w@./ -]{1,80}$/.test(said)) return said;
  return /[\\/]src[\\/]lib[\\/]command-name\.ts$/.test(import.meta.path) ? "bun run cli" : "copilot-api";
}

const invokedAs = program();

/** The command line for a subcommand, as this user would type it: cmd("keys create") → "npx copilot-api-gateway keys create". */
export const cmd = (rest: string): string => `${invokedAs} ${rest}`;
