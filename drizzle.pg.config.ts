import { defineConfig } from "drizzle-kit";

// The PostgreSQL series (`--database-url postgres://…`): src/db/pg-schema.ts
// declares the same tables as schema.ts; `bun run db:generate` runs this config
// after drizzle.config.ts, so both series move together. The runner
// (src/db/pg/runner.ts) applies drizzle-pg/ in journal order.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/pg-schema.ts",
  out: "./drizzle-pg",
  breakpoints: true,
});
