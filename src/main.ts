#!/usr/bin/env bun
import { runMain } from "citty";
import { main } from "~/commands";
import { guarded } from "~/lib/cli";
import { checkFlags } from "~/lib/strict-flags";

// The compiled binary is also what the token counter's thread runs (src/protocols/anthropic/token-worker.ts:
// there every module's import.meta.url is the binary): no CLI there, the counter, which `start` loads only lazily.
// Bun.isMainThread, not node:worker_threads: that module alone costs a few milliseconds of every boot.
if (Bun.isMainThread) {
  // A mistyped or valueless flag stops here, before any command runs (citty alone ignores it).
  await guarded(() => checkFlags(main, process.argv.slice(2)))({});
  await runMain(main);
} else {
  await import("~/protocols/anthropic/token-worker");
}
