// Bundles the browser entry (`effect-rpyc/browser`) into one minified ES module,
// dist/browser/effect-rpyc.min.js, and fails if anything in its module graph imports a `node:`
// module. Run by `npm run build:browser` after `npm run build` (it bundles dist/browser.js, which
// is what the package publishes); `--from-src` bundles src/browser.ts instead. Prints the size of
// the bundle, raw and gzipped.
//
// package.json's `browser` map puts the JavaScript inflater in place of node:zlib; esbuild applies
// it with `platform: "browser"`. esbuild comes with the dev tools (tsx and vitest depend on it).
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Zlib from "node:zlib"

const root = fileURLToPath(new URL("..", import.meta.url))

/**
 * Bundles `entry` for browsers. Imports of `node:` modules (and of Node's built-ins by their bare
 * names) are not followed but recorded: `nodeImports` lists each with its importer, relative to the
 * package root. `outfile` undefined: nothing is written.
 */
export const bundle = async ({ entry, outfile, minify = true }) => {
  const esbuild = await import("esbuild")
  const { builtinModules } = await import("node:module")
  const builtins = new Set(builtinModules)
  const nodeImports = []
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify,
    metafile: true,
    write: false,
    outfile: outfile ?? Path.join(root, "dist/browser/effect-rpyc.min.js"),
    logLevel: "silent",
    plugins: [{
      name: "record-node-imports",
      setup(build) {
        build.onResolve({ filter: /.*/ }, (args) => {
          const bare = args.path.split("/")[0]
          if (!args.path.startsWith("node:") && !builtins.has(args.path) && !builtins.has(bare)) return undefined
          nodeImports.push({ module: args.path, importer: Path.relative(root, args.importer) })
          return { path: args.path, external: true }
        })
      }
    }]
  })
  const code = result.outputFiles.find((file) => file.path.endsWith(".js")).contents
  if (outfile !== undefined) {
    Fs.mkdirSync(Path.dirname(outfile), { recursive: true })
    Fs.writeFileSync(outfile, code)
  }
  return {
    code,
    bytes: code.length,
    gzipBytes: Zlib.gzipSync(code, { level: 9 }).length,
    nodeImports,
    inputs: Object.keys(result.metafile.inputs)
  }
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`

const main = async () => {
  const fromSrc = process.argv.includes("--from-src")
  const entry = Path.join(root, fromSrc ? "src/browser.ts" : "dist/browser.js")
  if (!Fs.existsSync(entry)) {
    console.error(`build-browser: ${Path.relative(root, entry)} does not exist: run \`npm run build\` first`)
    process.exit(1)
  }
  const outfile = Path.join(root, "dist/browser/effect-rpyc.min.js")
  const { bytes, gzipBytes, nodeImports } = await bundle({ entry, outfile })
  if (nodeImports.length > 0) {
    console.error("build-browser: the browser entry reaches Node modules:")
    for (const { module, importer } of nodeImports) console.error(`  ${module} (imported by ${importer})`)
    Fs.rmSync(outfile, { force: true })
    process.exit(1)
  }
  console.log(`${Path.relative(root, outfile)}: ${kib(bytes)} minified, ${kib(gzipBytes)} gzipped`)
}

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`build-browser: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  })
}
