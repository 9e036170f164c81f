export { findLitestream, replicaTarget } from "./litestream";
export { restoreCommand } from "./restore";
export { ReplicationWorker } from "./worker";
