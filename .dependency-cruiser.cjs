// Architecture rules for src/ (`bun run lint:arch`). Each `comment` is what the
// error prints: it says what to do. The layout they keep (see README "Layout"):
//   src/{main,commands,start,server,app-env}.ts  entry, the command tree, boot, app assembly
//   src/lib/                            small shared helpers, a leaf
//   src/db/                             the store; index.ts + schema.ts are its public face
//   src/features/<name>/                one folder per feature; index.ts is its public face
//   src/protocols/<name>/               one folder per client-facing protocol (exports one Protocol)
//   src/protocols/chat/, pipeline.ts    the hub (Copilot's chat) and the request stages every protocol shares
//   src/upstream/                       GitHub / Copilot client, model catalog
// dependency-cruiser needs @swc/core to read .ts (TypeScript 7 has no JS compiler API)
// and Node >= 22, so it runs on Bun: `bunx --bun depcruise`.

// Without swc, dependency-cruiser skips every .ts file with a mere warning and the rules pass
// on an empty graph: refuse to run instead.
try {
  require("@swc/core");
} catch (error) {
  throw new Error(`dependency-cruiser needs @swc/core to read .ts files and it did not load (${error.message}): run \`bun install\`.`);
}

/** Paths of the store's public face, which everything outside src/db/ imports. */
const STORE_FACE = "^src/db/(index|schema|postgres)\\.ts$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "sqlite-only-in-db",
      comment:
        "bun:sqlite is imported only under src/db/. Outside it, use the Store from ~/db (its typed Drizzle handle `store.db`, " +
        "or add a named function to the feature's queries module); if you need something new from SQLite itself, add it to src/db/ and export it from src/db/index.ts.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/db/" },
      to: { path: "^bun:sqlite$" },
    },
    {
      name: "store-through-its-public-face",
      comment:
        "Outside src/db/, import the store only from ~/db (src/db/index.ts) or ~/db/schema. Export what you need from src/db/index.ts " +
        "instead of reaching into src/db/<file>.ts (only src/commands.ts may import the store's CLI, src/db/cli.ts, to wire the `db` command).",
      severity: "error",
      from: { path: "^src/", pathNot: ["^src/db/", "^src/commands\\.ts$"] },
      to: { path: "^src/db/", pathNot: STORE_FACE },
    },
    {
      name: "main-wires-only-the-store-cli",
      comment:
        "src/commands.ts wires commands: from src/db/ it may import the public face (index.ts, schema.ts) and the CLI (cli.ts), nothing else. " +
        "Export what you need from src/db/index.ts.",
      severity: "error",
      from: { path: "^src/commands\\.ts$" },
      to: { path: "^src/db/", pathNot: [STORE_FACE, "^src/db/cli\\.ts$"] },
    },
    {
      name: "no-feature-internals",
      comment:
        "A feature imports another feature only through its public face, src/features/<other>/index.ts " +
        "(or, from Postgres code loaded only with --database-url, its Postgres face src/features/<other>/pg.ts). " +
        "Export what you need from that index.ts (or move shared code to src/lib/ if it belongs to no feature).",
      severity: "error",
      from: { path: "^src/features/([^/]+)/" },
      to: { path: "^src/features/[^/]+/", pathNot: ["^src/features/$1/", "^src/features/[^/]+/(index|pg)\\.ts$"] },
    },
    {
      name: "protocols-side-by-side",
      comment:
        "A protocol folder imports no other protocol folder: protocols stand side by side over the shared hub. " +
        "Copilot's chat (types, stream pump, usage) is in src/protocols/chat/, the request stages in src/protocols/pipeline.ts; " +
        "move what two protocols share there (or to src/upstream/ or src/lib/), never import it from the other protocol.",
      severity: "error",
      from: { path: "^src/protocols/([^/]+)/" },
      to: { path: "^src/protocols/[^/]+/", pathNot: "^src/protocols/($1|chat)/" },
    },
    {
      name: "protocols-use-feature-faces",
      comment: "A protocol uses a feature only through its public face, src/features/<name>/index.ts. Export what you need from that index.ts.",
      severity: "error",
      from: { path: "^src/protocols/" },
      to: { path: "^src/features/[^/]+/", pathNot: "^src/features/[^/]+/index\\.ts$" },
    },
    {
      name: "lib-is-a-leaf",
      comment:
        "src/lib/ holds small shared helpers and imports nothing from the store, features, protocols, upstream or the app assembly. " +
        "Pass what the helper needs as a parameter, or move the code next to its caller.",
      severity: "error",
      from: { path: "^src/lib/" },
      to: { path: ["^src/(db|features|protocols|upstream)/", "^src/(main|commands|server|start)\\.ts$"] },
    },
    {
      name: "upstream-below-features",
      comment:
        "src/upstream/ (GitHub and Copilot client, catalog, forwarding) imports nothing from src/features/ or src/protocols/. " +
        "Inject what it needs (a callback or an interface declared in src/upstream/) from src/start.ts or the protocol.",
      severity: "error",
      from: { path: "^src/upstream/" },
      to: { path: "^src/(features|protocols)/" },
    },
    {
      name: "db-below-everything",
      comment:
        "src/db/ (the store) imports nothing from src/features/, src/protocols/ or src/upstream/. " +
        "A feature's queries live in the feature's folder and use the store; the store does not know its users.",
      severity: "error",
      from: { path: "^src/db/" },
      to: { path: "^src/(features|protocols|upstream)/" },
    },
    {
      name: "no-cycles",
      comment:
        "Import cycle. Break it: move the shared part into a module both can import, " +
        "or pass the dependency in (the house injects dependencies from src/start.ts).",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "resolvable",
      comment:
        "An import that does not resolve to a file. If this names a `~/…` path, the tsconfig alias is not being read and every rule above is blind: " +
        "check `options.tsConfig` in .dependency-cruiser.cjs.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|\\.tmp|drizzle)/" },
    // TypeScript 7 has no JS compiler API: read .ts with swc, which reports type-only
    // imports too (so they count for every rule). No tsPreCompilationDeps: it asks for tsc.
    parser: "swc",
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types", "bun"],
      extensions: [".ts", ".tsx", ".js", ".json"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
