/** The OpenAI protocol's public face, for server.ts. */
export { OPENAI_ROUTES, type OpenAIDeps, openAIRoutes } from "./routes";
/** Chat usage, for protocols that translate to Copilot's chat endpoint. */
export { openAIUsage } from "./usage";
