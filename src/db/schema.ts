// The single source of the schema. Change a table here, run
// `bun run db:generate`, and commit the file it writes under drizzle/.
export {};
