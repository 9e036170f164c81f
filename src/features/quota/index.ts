/** The quota feature's public face: Copilot's own counters, for the dashboard. */
export { type CredentialQuotas, QUOTA_NAMES, type QuotaLine, type QuotaReport, QuotaSource, quotaOf } from "./quota";
export { type SeatWindows, windowsReport } from "./windows";
