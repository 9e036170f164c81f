import { createConsola } from "consola";

// Everything goes to stderr so that `--json` output on stdout stays machine-readable.
export const log = createConsola({
  stdout: process.stderr,
  stderr: process.stderr,
  formatOptions: { date: false },
  // consola would go quiet under NODE_ENV=test; the boot log is part of what users see.
  level: 3,
});
