import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = fileURLToPath(new URL("./src/", import.meta.url))
const { exports } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as {
  readonly exports: Record<string, string | { readonly default: string }>
}

/** `effect-rpyc/<Module>` → its source, from the exports map (tsconfig.json's `paths` list the same). */
const packageAliases = Object.entries(exports).flatMap(([subpath, target]) =>
  typeof target === "string" ? [] : [{
    find: subpath === "." ? "effect-rpyc" : `effect-rpyc/${subpath.slice(2)}`,
    replacement: src + target.default.replace(/^\.\/dist\//, "").replace(/\.js$/, ".ts")
  }]
).map(({ find, replacement }) => ({ find: new RegExp(`^${find}$`), replacement }))

/** Tests of the codecs, the engine and netrefs over in-memory transports: no child processes. */
const unit = ["test/wire/**/*.test.ts", "test/protocol/**/*.test.ts", "test/netref/**/*.test.ts"]

export default defineConfig({
  // the package's own name, as the examples import it (tsx resolves it through tsconfig paths)
  resolve: {
    alias: packageAliases
  },
  test: {
    setupFiles: ["./test/setup.ts"],
    fakeTimers: { toFake: undefined },
    sequence: { concurrent: true },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // what servers started by a test log is shown only when that test fails
    silent: "passed-only",
    pool: "forks",
    poolOptions: {
      forks: {
        // refcount tests force garbage collection to observe netref finalization; the classic
        // namespace's dynamic import is an experimental vm feature whose warning is only noise here
        execArgv: ["--expose-gc", "--disable-warning=ExperimentalWarning"]
      }
    },
    // `npm test` runs both; `npm run test:unit` (with RPYC_SKIP_PYTHON=1) and `npm run test:interop`
    // run one each
    projects: [
      { extends: true, test: { name: "unit", include: unit } },
      { extends: true, test: { name: "interop", include: ["test/**/*.test.ts"], exclude: unit } }
    ]
  }
})
