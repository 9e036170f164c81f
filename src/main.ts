#!/usr/bin/env bun
import { runMain } from "citty";
import { main } from "~/commands";
import { guarded } from "~/lib/cli";
import { checkFlags } from "~/lib/strict-flags";

// A mistyped or valueless flag stops here, before any command runs (citty alone ignores it).
await guarded(() => checkFlags(main, process.argv.slice(2)))(undefined);
await runMain(main);
