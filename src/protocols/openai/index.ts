/** The OpenAI protocol's public face, for server.ts. */
export { OPENAI_ROUTES, type OpenAIDeps, openAIRoutes } from "./routes";
