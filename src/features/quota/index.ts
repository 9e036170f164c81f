/** The quota feature's public face: Copilot's own counters, for the dashboard. */
export { type CredentialQuotas, quotaOf } from "./cli";
export { QUOTA_NAMES, type QuotaLine, type QuotaReport, QuotaSource } from "./quota";
export { type SeatWindows, windowsReport } from "./windows";
