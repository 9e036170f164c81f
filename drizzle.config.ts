import { defineConfig } from "drizzle-kit";

// `bun run db:generate` diffs src/db/schema.ts against the last snapshot in
// drizzle/meta and writes the next numbered migration. The runner applies the
// files in journal order; nothing else needs to know about them.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
  breakpoints: true,
});
