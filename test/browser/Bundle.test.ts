/**
 * The browser entry's module graph (esbuild's, as `npm run build:browser` bundles it): no `node:`
 * module, no Node built-in, and the JavaScript inflater in place of node:zlib. The same check run
 * on the Node entry finds its Node imports, so it can tell.
 */
import { assert, describe, it } from "@effect/vitest"
import { bundle } from "../../scripts/build-browser.mjs"

describe("the browser bundle", () => {
  it("reaches no node: module from src/browser.ts", async () => {
    const result = await bundle({ entry: "src/browser.ts" })
    assert.deepStrictEqual(result.nodeImports, [])
    assert.include(result.inputs, "src/internal/wire/CompressionBrowser.ts")
    assert.notInclude(result.inputs, "src/internal/wire/Compression.ts")
    assert.include(result.inputs, "src/transport/WebSocket.ts")
    assert.isAbove(result.bytes, 0)
  }, 60_000)

  it("the check finds the Node modules the Node entry imports", async () => {
    const result = await bundle({ entry: "src/index.ts" })
    const modules = new Set(result.nodeImports.map((i) => i.module))
    assert.isTrue(modules.has("node:net"), JSON.stringify(result.nodeImports))
    assert.isTrue(
      result.nodeImports.some((i) => i.importer === "src/client/Client.ts" && i.module === "node:net"),
      "names the importer"
    )
  }, 60_000)
})
