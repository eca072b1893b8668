/**
 * examples/events: RPyC's file-monitor tutorial. The server calls the client's callback
 * asynchronously on each change of the file; stop() and closing the connection end the monitor.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Client from "../../src/client/Client.js"
import { run, spawn, TIMEOUT, tsx } from "../support/Child.js"
import { remote } from "../support/Peers.js"
import { describePython, hasPythonRpyc, PYTHON, pythonMissing } from "../support/Python.js"

const INTERVAL = 0.05

/** A fresh empty file in a temporary directory, removed with the scope. */
const tempFile = Effect.acquireRelease(
  Effect.promise(async () => {
    const dir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "effect-rpyc-events-"))
    const file = Path.join(dir, "floop.bloop")
    await Fs.writeFile(file, "")
    return file
  }),
  (file) => Effect.promise(() => Fs.rm(Path.dirname(file), { recursive: true, force: true }))
)

const append = (file: string, text: string) => Effect.promise(() => Fs.appendFile(file, text))

type Change = readonly [oldstat: ReadonlyArray<number> | null, newstat: ReadonlyArray<number> | null]

/** A callback for the server that queues what it is called with. */
const recorder = Effect.gen(function*() {
  const changes = yield* Queue.unbounded<Change>()
  const onFileChanged = (oldstat: ReadonlyArray<number> | null, newstat: ReadonlyArray<number> | null) => {
    changes.unsafeOffer([oldstat, newstat])
  }
  /** The next change, which must come within 2 s. */
  const next = Queue.take(changes).pipe(
    Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new Error("no callback within 2 s") })
  )
  return { changes, onFileChanged, next }
})

const SIZE = 6

/**
 * examples/events/server.ts as a child process (tsx resolves the example's "effect-rpyc" imports),
 * shared by the tests of a file; killed when they are done.
 */
class EventsServer extends Context.Tag("test/EventsServer")<EventsServer, { readonly port: string }>() {}

const startServer = Effect.gen(function*() {
  const [node, args] = tsx("examples/events/server.ts")
  const server = yield* spawn(node, args, { env: { PORT: "0" } })
  const port = (yield* server.waitFor(/server started on \[127\.0\.0\.1\]:(\d+)/, "stderr"))[1]!
  return { port }
})

const EventsServerLive = Layer.scoped(EventsServer, startServer)

const connect = Effect.flatMap(EventsServer, ({ port }) => Client.connect({ host: "127.0.0.1", port: Number(port) }))

layer(EventsServerLive, { excludeTestServices: true, timeout: TIMEOUT })("events: the file monitor", (it) => {
  it.scoped("each change fires the callback within 2 s with old and new stat; none after stop()", () =>
    Effect.gen(function*() {
      const conn = yield* connect
      const file = yield* tempFile
      const { changes, next, onFileChanged } = yield* recorder

      const mon = yield* remote(conn.root.FileMonitor(file, onFileChanged, INTERVAL))
      assert.isTrue(yield* remote(mon.active))
      assert.strictEqual(yield* remote(conn.root.running(file)), 1)

      yield* append(file, "shmoop")
      const [old1, new1] = yield* next
      assert.strictEqual(old1![SIZE], 0)
      assert.strictEqual(new1![SIZE], 6)
      assert.lengthOf(new1!, 10)

      yield* append(file, "groop")
      const [old2, new2] = yield* next
      assert.strictEqual(old2![SIZE], 6)
      assert.strictEqual(new2![SIZE], 11)
      assert.strictEqual(yield* remote(mon.notifications), 2)

      yield* remote(mon.stop())
      assert.isFalse(yield* remote(mon.active))
      assert.strictEqual(yield* remote(conn.root.running(file)), 0)

      // a witness monitor on the same file sees the next change; the stopped one stays silent
      const witness = yield* recorder
      yield* remote(conn.root.FileMonitor(file, witness.onFileChanged, INTERVAL))
      yield* append(file, "floop")
      const [, seen] = yield* witness.next
      assert.strictEqual(seen![SIZE], 16)
      yield* append(file, "bloop")
      yield* witness.next
      assert.isTrue(Option.isNone(yield* Queue.poll(changes)), "a stopped monitor called back")
      assert.strictEqual(yield* remote(mon.notifications), 2)
    }))

  it.scoped("a file that disappears and comes back is reported with null stats", () =>
    Effect.gen(function*() {
      const conn = yield* connect
      const file = yield* tempFile
      const { next, onFileChanged } = yield* recorder
      const mon = yield* remote(conn.root.FileMonitor(file, onFileChanged, INTERVAL))
      yield* Effect.promise(() => Fs.rm(file))
      const [gone, none] = yield* next
      assert.isNotNull(gone)
      assert.isNull(none)
      // written aside and renamed into place, so that the file appears with its content at once
      yield* Effect.promise(() => Fs.writeFile(`${file}.new`, "back").then(() => Fs.rename(`${file}.new`, file)))
      const [none2, back] = yield* next
      assert.isNull(none2)
      assert.strictEqual(back![SIZE], 4)
      yield* remote(mon.stop())
    }))

  it.scoped("closing the connection stops its monitors", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const { onFileChanged } = yield* recorder
      const observer = yield* connect
      const scope = yield* Scope.make()
      const conn = yield* Scope.extend(connect, scope)
      yield* remote(conn.root.FileMonitor(file, onFileChanged, INTERVAL))
      yield* remote(conn.root.FileMonitor(file, onFileChanged, INTERVAL))
      assert.strictEqual(yield* remote(observer.root.running(file)), 2)
      yield* Scope.close(scope, Exit.void)
      // the server notices the close on its own schedule: poll, with a deadline
      const deadline = Date.now() + 5000
      while ((yield* remote<number>(observer.root.running(file))) > 0) {
        assert.isBelow(Date.now(), deadline, "the monitors did not stop within 5 s of the close")
        yield* Effect.sleep("20 millis")
      }
    }))
})

describe("events: the example scripts", () => {
  it.scopedLive("client.ts against server.ts prints two changes and stops", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer
      const file = yield* tempFile
      const [node, clientArgs] = tsx("examples/events/client.ts", file)
      const result = yield* run(node, clientArgs, { env: { PORT: port, INTERVAL: String(INTERVAL) } })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.match(/^file changed$/gm)?.length, 2, result.stdout)
      assert.match(result.stdout, /old stat: os\.stat_result\(st_mode=\d+, .*st_size=0,/)
      assert.match(result.stdout, /new stat: os\.stat_result\(.*st_size=11,/)
      assert.match(result.stdout, /stopped after 2 changes/)
    }), TIMEOUT)
})

describePython("events: the Python client (with its BgServingThread) against server.ts", () => {
  it.scopedLive("client.py sees two changes", () =>
    Effect.gen(function*() {
      assert.isTrue(hasPythonRpyc, pythonMissing)
      const { port } = yield* startServer
      const file = yield* tempFile
      const result = yield* run(PYTHON, ["examples/events/client.py", file], {
        env: { PORT: port, INTERVAL: String(INTERVAL) }
      })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.match(/^file changed$/gm)?.length, 2, result.stdout)
      assert.match(result.stdout, /new stat: \(\d+, .*\)/)
      assert.match(result.stdout, /done/)
    }), TIMEOUT)
})
