/** The events feature's public face: what the server, the boot, the protocols and the usage report use. */
export { noteCost } from "./cost";
export { type ChildEvent, type EventDraft, observeFor, UNAUTHENTICATED_KEY_ID, type UsageReader } from "./draft";
export { HOUR_MS, LATENCY_BUCKETS, type RecordedEvent } from "./queries";
export { EventRecorder } from "./recorder";
export { RetentionJob, type RetentionTarget } from "./retention";
export { telemetry } from "./telemetry";
