// `bun run bench`: every benchmark, each printed as a markdown table with ratios
// against a baseline measured in the same run. Numbers go in the README.
import { benchAnthropic } from "./anthropic";
import { benchBoot } from "./boot";
import { benchCountTokens } from "./count-tokens";
import { benchCredentials } from "./credentials";
import { benchDashboard } from "./dashboard";
import { benchEvents } from "./events";
import { benchKeys } from "./keys";
import { benchLookup } from "./lookup";
import { benchMigrationGuard } from "./migration-guard";
import { benchObservability } from "./observability";
import { benchProxy } from "./proxy";
import { benchReplication } from "./replication";
import { benchRequestChecks } from "./request-checks";
import { benchResponses } from "./responses";
import { benchResponsesChain } from "./responses-chain";
import { benchStrictChunks } from "./strict-chunks";
import { benchWebSearch } from "./web-search";

console.log(`copilot-api benchmarks — Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, ${new Date().toISOString().slice(0, 10)}`);
benchLookup();
await benchKeys();
benchCredentials();
benchRequestChecks();
await benchEvents();
await benchBoot();
benchMigrationGuard();
await benchProxy();
await benchAnthropic();
await benchCountTokens();
await benchStrictChunks();
await benchDashboard();
await benchResponses();
await benchResponsesChain();
await benchWebSearch();
await benchReplication();
await benchObservability();
