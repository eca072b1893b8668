/**
 * upload / download (files and directories, chunked, with progress), redirectedStdio, obtain and
 * deliver, against a TypeScript classic server and Python's rpyc_classic.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Classic from "../../src/classic/Classic.js"
import * as Operations from "../../src/netref/Operations.js"
import { TIMEOUT } from "../support/Child.js"
import { remote } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { Collector, connect, connectPython, connectTs, tsServerProcess } from "./support.js"

/** A fresh temporary directory, removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "rpyc-classic-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

const bytes = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

/** A small tree: a.bin (10 000 bytes), empty.txt, sub/b.txt, sub/deeper/c.bin, skip.log. */
const makeTree = (root: string) =>
  Effect.promise(async () => {
    await Fs.mkdir(Path.join(root, "sub/deeper"), { recursive: true })
    await Fs.writeFile(Path.join(root, "a.bin"), bytes(10_000, 1))
    await Fs.writeFile(Path.join(root, "empty.txt"), "")
    await Fs.writeFile(Path.join(root, "sub/b.txt"), "hello\n")
    await Fs.writeFile(Path.join(root, "sub/deeper/c.bin"), bytes(3000, 7))
    await Fs.writeFile(Path.join(root, "skip.log"), "ignored")
  })

/** Relative path → contents of every file under `root`. */
const readTree = (root: string) =>
  Effect.promise(async () => {
    const files: Record<string, string> = {}
    const walk = async (dir: string) => {
      for (const entry of await Fs.readdir(dir, { withFileTypes: true })) {
        const full = Path.join(dir, entry.name)
        if (entry.isDirectory()) await walk(full)
        else files[Path.relative(root, full)] = (await Fs.readFile(full)).toString("base64")
      }
    }
    await walk(root)
    return files
  })

const transfers = (
  label: string,
  connectTo: Effect.Effect<{ readonly conn: Classic.ClassicConnection }, unknown, Scope.Scope>,
  run: typeof it.scopedLive
) => {
  run(`${label}: a file, in chunks, with progress`, () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTo
      const dir = yield* tempDir
      yield* makeTree(dir)
      const progress: Array<Classic.Progress> = []
      yield* Classic.upload(conn, Path.join(dir, "a.bin"), Path.join(dir, "up.bin"), {
        chunkSize: 4096,
        onProgress: (p) => progress.push(p)
      })
      assert.deepStrictEqual(progress.map((p) => [p.bytes, p.done]), [[4096, false], [8192, false], [10_000, false], [
        10_000,
        true
      ]])
      assert.isTrue(progress.every((p) => p.total === 10_000 && p.remote === Path.join(dir, "up.bin")))
      assert.deepStrictEqual(
        new Uint8Array(yield* Effect.promise(() => Fs.readFile(Path.join(dir, "up.bin")))),
        bytes(10_000, 1)
      )
      progress.length = 0
      yield* Classic.download(conn, Path.join(dir, "up.bin"), Path.join(dir, "down.bin"), {
        chunkSize: 3000,
        onProgress: (p) => progress.push(p)
      })
      assert.deepStrictEqual(
        new Uint8Array(yield* Effect.promise(() => Fs.readFile(Path.join(dir, "down.bin")))),
        bytes(10_000, 1)
      )
      assert.strictEqual(progress[progress.length - 1].bytes, 10_000)
      assert.isTrue(progress[progress.length - 1].done)
      assert.isAtLeast(progress.length, 3)
      assert.isTrue(progress.every((p) => p.total === 10_000))
    }), TIMEOUT)

  run(`${label}: whole directories, with a filter`, () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTo
      const dir = yield* tempDir
      const source = Path.join(dir, "source")
      yield* makeTree(source)
      const noLogs = (name: string) => !name.endsWith(".log")
      yield* Classic.upload(conn, source, Path.join(dir, "uploaded/nested"), { filter: noLogs, chunkSize: 1000 })
      const expected = yield* readTree(source)
      delete expected["skip.log"]
      assert.deepStrictEqual(yield* readTree(Path.join(dir, "uploaded/nested")), expected)
      yield* Classic.download(conn, Path.join(dir, "uploaded"), Path.join(dir, "downloaded"))
      assert.deepStrictEqual(yield* readTree(Path.join(dir, "downloaded/nested")), expected)
    }), TIMEOUT)

  run(`${label}: invalid paths`, () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTo
      const dir = yield* tempDir
      const up = yield* Effect.flip(Classic.upload(conn, Path.join(dir, "missing"), Path.join(dir, "x")))
      assert.strictEqual(up._tag, "RemotingError")
      assert.strictEqual((up as Classic.RemotingError).reason, "InvalidPath")
      const down = yield* Effect.flip(Classic.download(conn, Path.join(dir, "missing"), Path.join(dir, "x")))
      assert.strictEqual((down as Classic.RemotingError).reason, "InvalidPath")
      yield* Classic.download(conn, Path.join(dir, "missing"), Path.join(dir, "x"), { ignoreInvalid: true })
      // the Promise face
      yield* Effect.promise(() =>
        Classic.upload(conn, Path.join(dir, "missing"), Path.join(dir, "x"), { ignoreInvalid: true })
      )
    }), TIMEOUT)
}

describe("remoting against a TS classic server", () => {
  transfers("TS server", connectTs, it.scopedLive)

  it.scopedLive("redirectedStdio shows the server's console output here", () =>
    Effect.gen(function*() {
      const { child, port } = yield* tsServerProcess
      const conn = yield* connect(port)
      const out = new Collector()
      const err = new Collector()
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Classic.redirectedStdio(conn, { stdout: out, stderr: err })
        yield* remote(conn.execute("console.log('redirected', 1); console.error('to stderr')"))
        yield* remote(conn.modules.sys.stdout.write("via sys\n"))
      }))
      assert.strictEqual(out.text, "redirected 1\nvia sys\n")
      assert.strictEqual(err.text, "to stderr\n")
      yield* remote(conn.execute("console.log('back on the server')"))
      yield* child.waitFor(/^back on the server$/, { stream: "stdout", timeout: 10_000 })
      assert.notInclude(child.stdout(), "redirected 1")
      // a client that disconnects while redirecting does not silence the server
      yield* Effect.scoped(Effect.gen(function*() {
        const other = yield* connect(port)
        yield* Classic.redirectedStdio(other, { stdout: new Collector() })
        yield* Effect.promise(async () => await other.close())
      }))
      yield* remote(conn.execute("console.log('still printing')"))
      yield* remote(conn.execute("console.log('and again')"))
      yield* child.waitFor(/^and again$/, { stream: "stdout", timeout: 10_000 })
    }), TIMEOUT)

  it.scopedLive("obtain and deliver", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTs
      const delivered: any = yield* Classic.deliver(conn, { a: [1, 2], b: "text" })
      assert.strictEqual(Operations.typeName(delivered), "builtins.dict")
      const list = yield* remote(delivered.a)
      assert.strictEqual(Operations.typeName(list), "builtins.list")
      yield* remote(list.append(3))
      assert.deepStrictEqual(yield* Classic.obtain(delivered), { a: [1, 2, 3], b: "text" })
      assert.deepStrictEqual(yield* Classic.obtain(conn.eval("JSON.parse('{\"k\": [true, null]}')")), {
        k: [true, null]
      })
    }), TIMEOUT)
})

describePython("remoting against Python's rpyc_classic", () => {
  transfers("Python server", connectPython, it.scopedLive)
})
