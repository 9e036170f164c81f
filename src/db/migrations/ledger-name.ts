/** The runner's ledger table: its name alone, for the boot's quick look (./carried.ts), which loads no Drizzle. */
export const LEDGER_TABLE = "_migrations";
