import { defineConfig } from "vitest/config"

export default defineConfig({
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
