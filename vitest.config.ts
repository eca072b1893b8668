import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = fileURLToPath(new URL("./src/", import.meta.url))

export default defineConfig({
  // the package's own name, as the examples import it (tsx resolves it through tsconfig paths)
  resolve: {
    alias: [
      { find: /^effect-rpyc$/, replacement: `${src}index.ts` },
      { find: /^effect-rpyc\/(.*)\.js$/, replacement: `${src}$1.ts` }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/setup.ts"],
    fakeTimers: { toFake: undefined },
    sequence: { concurrent: true },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // refcount tests force garbage collection to observe netref finalization
    poolOptions: { forks: { execArgv: ["--expose-gc"] } }
  }
})
