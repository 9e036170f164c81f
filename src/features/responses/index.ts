/** The stored-responses feature's public face: what the boot and the Responses protocol use. */
export { expandChain } from "./chain";
export { isStoredStatus, type StoredResponse } from "./queries";
export { responsesRetention } from "./retention";
export { type ChainSource, MAX_RESPONSE_BYTES, StoredResponses } from "./stored";
