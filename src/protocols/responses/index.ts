/** The Responses protocol's public face, for server.ts. */
export { RESPONSES_ROUTES, responsesRoutes } from "./routes";
