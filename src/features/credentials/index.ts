/** Several GitHub credentials, each its own Copilot seat: the public face for start.ts, server.ts and main.ts. */

export { chooseUpstream } from "./middleware";
export { SeatPool } from "./pool";
export { credentialLabels, sqliteCredentials } from "./queries";
export { UpstreamRouter } from "./router";
export { Seats } from "./seats";
export { storeCredential } from "./store";
export { CredentialVault, checkLabel } from "./vault";
