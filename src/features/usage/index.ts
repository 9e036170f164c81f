/** The usage feature's public face: the one usage read model, which the dashboard reads too. */
export { emptySums, type Sums, type UsagePart } from "./queries";
export { DAY_MS, foldParts, type UsageRow, usageRow } from "./read-model";
export { sqliteUsage, type UsageStore } from "./store";
