/**
 * The package as a user installs it: `npm pack` of a copy of this checkout (so `prepack` builds
 * `dist/` there and the running suite's own `dist/` is untouched), the tarball installed with
 * `effect` into a project outside the repository, then:
 *
 * (a) a plain Node ESM file imports `effect-rpyc`, starts a server and calls it;
 * (b) a TypeScript file using typed remotes type-checks under `moduleResolution: NodeNext`;
 * (c) `node_modules/.bin/rpyc-classic --version`, and a oneshot classic server answers a client;
 * (d) an Effect program built on the app's own `effect` runs remote operations.
 *
 * Installing needs only the package registry (and npm's cache, which `npm ci` has filled): the
 * versions are the ones this repository develops against.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const execFile = promisify(ChildProcess.execFile)
const ROOT = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
const pkg = JSON.parse(Fs.readFileSync(Path.join(ROOT, "package.json"), "utf8")) as {
  readonly version: string
  readonly files: ReadonlyArray<string>
  readonly devDependencies: Record<string, string>
  readonly peerDependencies: Record<string, string>
  readonly dependencies?: Record<string, string>
  readonly bundleDependencies?: ReadonlyArray<string>
}
const TIMEOUT = 600_000

let work: string
let app: string

const npm = (cwd: string, ...args: ReadonlyArray<string>) =>
  execFile("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    maxBuffer: 1 << 26,
    env: { ...process.env, npm_config_update_notifier: "false" }
  })

beforeAll(async () => {
  work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-rpyc-package-"))
  // the package's own files plus what its build needs; node_modules shared by a link
  const source = Path.join(work, "source")
  Fs.mkdirSync(source)
  for (const entry of ["package.json", "tsconfig.json", "tsconfig.build.json", "scripts", ...pkg.files]) {
    Fs.cpSync(Path.join(ROOT, entry), Path.join(source, entry), { recursive: true })
  }
  Fs.rmSync(Path.join(source, "dist"), { recursive: true, force: true })
  Fs.symlinkSync(Path.join(ROOT, "node_modules"), Path.join(source, "node_modules"), "dir")
  const packed = await npm(source, "pack", "--pack-destination", work, "--json")
  const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<{ filename: string }>
  const tarball = Path.join(work, filename)

  app = Path.join(work, "app")
  Fs.mkdirSync(app)
  Fs.writeFileSync(Path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  const pinned = (name: string) => `${name}@${pkg.devDependencies[name]}`
  await npm(
    app,
    "install",
    "--prefer-offline",
    tarball,
    ...Object.keys(pkg.peerDependencies).map(pinned),
    pinned("typescript"),
    pinned("@types/node")
  )
}, TIMEOUT)

afterAll(() => {
  if (work && !process.env.KEEP_PACKAGE_TEST) Fs.rmSync(work, { recursive: true, force: true })
})

const write = (name: string, text: string) => {
  Fs.writeFileSync(Path.join(app, name), text)
  return Path.join(app, name)
}

const node = (file: string) => execFile(process.execPath, [file], { cwd: app, timeout: 120_000 })

describe("the installed package", () => {
  it("ships dist/ and depends on the app's effect (one copy)", () => {
    const installed = Path.join(app, "node_modules/effect-rpyc")
    assert.isTrue(Fs.existsSync(Path.join(installed, "dist/index.js")), "dist/index.js in the tarball")
    assert.isTrue(Fs.existsSync(Path.join(installed, "dist/index.d.ts")), "dist/index.d.ts in the tarball")
    const manifest = JSON.parse(Fs.readFileSync(Path.join(installed, "package.json"), "utf8")) as typeof pkg
    assert.deepStrictEqual(Object.keys(manifest.dependencies ?? {}).filter((d) => /^(effect|@effect\/)/.test(d)), [])
    assert.deepStrictEqual(manifest.bundleDependencies ?? [], [])
    assert.isFalse(Fs.existsSync(Path.join(installed, "node_modules/effect")), "a second copy of effect")
    assert.isFalse(Fs.existsSync(Path.join(installed, "node_modules/@effect")), "second copies of @effect packages")
  })

  it("(a) a plain ESM file imports effect-rpyc, serves and calls", async () => {
    const file = write(
      "plain.mjs",
      `import * as rpyc from "effect-rpyc"
class Adder extends rpyc.Service {
  exposed_add(a, b) { return a + b }
}
const server = new rpyc.ThreadedServer(Adder, { hostname: "127.0.0.1", port: 0, autoRegister: false, rpycLogs: false })
await server.start()
const conn = await rpyc.connect("127.0.0.1", server.port)
console.log("sum", await conn.root.add(40, 2))
await conn.close()
await server.close()
`
    )
    const { stdout } = await node(file)
    assert.include(stdout, "sum 42")
  }, TIMEOUT)

  it("(b) typed remotes type-check with moduleResolution NodeNext", async () => {
    write(
      "tsconfig.json",
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          types: ["node"]
        },
        include: ["typed.ts"]
      })
    )
    write(
      "typed.ts",
      `import * as rpyc from "effect-rpyc"
// the service's shape, as its class declares it (\`exposed_\` names; the prefix is stripped)
interface Api {
  exposed_add(a: number, b: number): number
  readonly exposed_name: string
}
export const main = async (port: number): Promise<number> => {
  const conn = await rpyc.connect<Api>("127.0.0.1", port)
  const sum: number = await conn.root.add(1, 2)
  const name: string = await conn.root.name
  await conn.close()
  return sum + name.length
}
`
    )
    const tsc = Path.join(app, "node_modules/typescript/bin/tsc")
    await execFile(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: app, timeout: 120_000 })
    // and a wrong argument type is refused: the types really come from the package
    write("typed.ts", Fs.readFileSync(Path.join(app, "typed.ts"), "utf8").replace("add(1, 2)", "add(\"1\", 2)"))
    const wrong = await execFile(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: app }).then(
      () => undefined,
      (error: { stdout: string }) => error.stdout
    )
    assert.match(wrong ?? "compiled", /TS2345/)
  }, TIMEOUT)

  it("(c) the rpyc-classic bin: --version, and a oneshot server answers a client", async () => {
    const bin = Path.join(app, "node_modules/.bin/rpyc-classic")
    const version = await execFile(bin, ["--version"], { cwd: app, timeout: 60_000 })
    assert.strictEqual(version.stdout.trim(), pkg.version)

    const server = ChildProcess.spawn(bin, ["--mode", "oneshot", "--port", "0", "-q"], {
      cwd: app,
      stdio: ["ignore", "pipe", "pipe"]
    })
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = ""
        server.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString()
          const match = /rpyc-oneshot\n[^\t\n]+\t(\d+)/.exec(out)
          if (match) resolve(Number(match[1]))
        })
        server.once("exit", (code) => reject(new Error(`rpyc-classic exited with ${code} before listening`)))
      })
      const file = write(
        "classic.mjs",
        `import * as rpyc from "effect-rpyc"
const conn = await rpyc.classic.connect("127.0.0.1", ${port})
console.log("eval", await conn.eval("6 * 7"))
await conn.close()
`
      )
      const { stdout } = await node(file)
      assert.include(stdout, "eval 42")
    } finally {
      server.kill("SIGKILL")
    }
  }, TIMEOUT)

  it("(d) an Effect program on the app's own effect runs remote operations", async () => {
    const file = write(
      "effect-app.mjs",
      `import * as Effect from "effect/Effect"
import * as rpyc from "effect-rpyc"
import { Client, Server } from "effect-rpyc"
class Echo extends rpyc.Service {
  exposed_upper(s) { return s.toUpperCase() }
}
const program = Effect.gen(function*() {
  const server = yield* Server.make(Echo, { hostname: "127.0.0.1", port: 0 })
  const conn = yield* Client.connect({ host: "127.0.0.1", port: server.port })
  const upper = yield* conn.root.upper("effect")
  const both = yield* Effect.all([conn.root.upper("a"), conn.root.upper("b")], { concurrency: 2 })
  return [upper, ...both].join(" ")
})
console.log("result", await Effect.runPromise(Effect.scoped(program)))
`
    )
    const { stdout } = await node(file)
    assert.include(stdout, "result EFFECT A B")
  }, TIMEOUT)
})
