/** The events feature's public face: what the server, the boot and the protocols use. */
export { type EventDraft, observeFor, type UsageReader } from "./draft";
export { EventRecorder } from "./recorder";
export { RetentionJob } from "./retention";
export { type RecordedRoutes, telemetry } from "./telemetry";
