export { findLitestream, replicaTarget } from "./litestream";
export { ReplicationWorker } from "./worker";
