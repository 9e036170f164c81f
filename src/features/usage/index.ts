/** The usage feature's public face: what other features (the dashboard) read. */
export { percentile } from "./queries";
