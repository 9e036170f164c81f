/** The usage feature's public face: the one usage read model, which the dashboard reads too. */
export { emptySums, type Sums, type UsagePart } from "./queries";
export { DAY_MS, foldParts, UsageReader, type UsageRow, usageRow } from "./read-model";
