/**
 * The layering of src/, checked in CI by `npm run lint:deps` (docs/ARCHITECTURE.md draws it).
 * Every import, type-only ones included, must point down this list or stay in its own layer; no
 * import cycle anywhere.
 */
const layers = [
  // the internal core, bottom up
  ["internal/base", "src/internal/base/"],
  ["internal/wire", "src/internal/wire/"],
  ["internal/netref", "src/internal/netref/"],
  ["internal/object", "src/internal/object/"],
  ["internal/engine", "src/internal/engine/"],
  // the public surface, bottom up
  ["transport", "src/transport/"],
  ["public leaves", "src/(Awaitable|Logging|Telemetry)\\.ts$"],
  ["protocol", "src/(protocol|netref)/"],
  ["service", "src/(service|async)/"],
  ["registry", "src/registry/"],
  ["client, server and gateway", "src/(client|server|gateway)/"],
  ["classic", "src/classic/"],
  ["entry points", "src/(cli/|index\\.ts$|browser\\.ts$|portable\\.ts$)"]
]

const above = (i) => layers.slice(i + 1).map(([, path]) => `^${path}`)

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Modules that import each other cannot be read, tested or changed one at a time.",
      from: {},
      to: { circular: true }
    },
    ...layers.slice(0, -1).map(([name, path], i) => ({
      name: `no-upward-import-from-${name.replace(/[^a-z]+/g, "-")}`,
      severity: "error",
      comment: `${name} may import only its own layer and the layers below it.`,
      from: { path: `^${path}` },
      to: { path: above(i) }
    })),
    {
      name: "src-is-not-tests",
      severity: "error",
      comment: "Library code never imports tests, examples or benchmarks.",
      from: { path: "^src/" },
      to: { path: "^(test|examples|bench)/" }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|dist)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"], conditionNames: ["import", "types", "default"] }
  }
}
