/**
 * RPyC's file-monitor tutorial (Part 5, "Events"), on effect-rpyc.
 *
 * The service exposes a `FileMonitor` class. A client constructs it remotely with a file name and
 * a callback (`conn.root.FileMonitor(path, onFileChanged)`); the server then polls the file's stat
 * and, on every change, calls the client's callback **asynchronously** (`async_`) with the old and
 * the new stat. `stop()` ends the monitor; so does the closing of the connection the callback came
 * from.
 *
 * A stat travels by value, as a tuple in Python's `os.stat_result` order:
 * `(st_mode, st_ino, st_dev, st_nlink, st_uid, st_gid, st_size, st_atime, st_mtime, st_ctime)`
 * (times in seconds, as floats), or `null` while the file does not exist.
 */
import { Netref, Service } from "effect-rpyc"
import { async_ } from "effect-rpyc/Async"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Fs from "node:fs"

/** `os.stat_result` as a tuple (by value on the wire). */
export type StatTuple = readonly [
  mode: number,
  ino: number,
  dev: number,
  nlink: number,
  uid: number,
  gid: number,
  size: number,
  atime: number,
  mtime: number,
  ctime: number
]

export const STAT_FIELDS = [
  "st_mode",
  "st_ino",
  "st_dev",
  "st_nlink",
  "st_uid",
  "st_gid",
  "st_size",
  "st_atime",
  "st_mtime",
  "st_ctime"
] as const

const toTuple = (s: Fs.Stats): StatTuple => [
  s.mode,
  s.ino,
  s.dev,
  s.nlink,
  s.uid,
  s.gid,
  s.size,
  s.atimeMs / 1000,
  s.mtimeMs / 1000,
  s.ctimeMs / 1000
]

/** What counts as a change: everything but the access time (reading the file is not a change). */
const changed = (a: StatTuple | null, b: StatTuple | null): boolean =>
  a === null || b === null ? a !== b : a.some((v, i) => i !== 7 && v !== b[i])

/** `os.stat(path)` as a tuple, or `null` if the file is missing. */
const statOf = (path: string): Effect.Effect<StatTuple | null> =>
  Effect.promise(() => Fs.promises.stat(path).then(toTuple, () => null))

const statNow = (path: string): StatTuple | null => {
  try {
    return toTuple(Fs.statSync(path))
  } catch {
    return null
  }
}

/**
 * A file monitor, constructed remotely: `conn.root.FileMonitor(filename, callback, interval = 1)`.
 */
export class FileMonitor {
  /** Every monitor still running in this process. */
  static readonly running = new Set<FileMonitor>()

  exposed_filename: string
  exposed_interval: number
  exposed_active = true
  /** How many times the callback was called. */
  exposed_notifications = 0
  private readonly fiber: Fiber.RuntimeFiber<void>

  /**
   * @param filename the file to watch
   * @param callback the client's function, called as `callback(oldstat, newstat)`
   * @param interval seconds between two looks at the file
   */
  constructor(filename: string, callback: unknown, interval: number = 1) {
    this.exposed_filename = filename
    this.exposed_interval = interval
    const notify = async_(callback) // create an async callback: the server does not wait for it
    const owner = Netref.connectionOf(callback)
    const closed = owner !== undefined ? owner.awaitClose : Effect.never

    // the first look is taken now, so that a change made as soon as the client has the monitor counts
    let last = statNow(filename)
    const work = Effect.gen(this, function*() {
      while (true) {
        yield* Effect.sleep(Duration.seconds(interval))
        const stat = yield* statOf(filename)
        if (changed(last, stat)) {
          this.exposed_notifications++
          notify(last, stat).addCallback((res) => {
            const exit = res.exit
            if (exit !== undefined && Exit.isFailure(exit)) {
              console.error(`FileMonitor(${filename}): callback failed`, exit.cause.toString())
            }
          })
        }
        last = stat
      }
    })
    // the monitor ends with stop(), or when the connection that gave us the callback closes
    this.fiber = Effect.runFork(
      Effect.raceFirst(work, closed).pipe(
        Effect.ensuring(Effect.sync(() => {
          this.exposed_active = false
          FileMonitor.running.delete(this)
        }))
      )
    )
    FileMonitor.running.add(this)
  }

  /** Stops the monitor; resolves once it no longer looks at the file (like joining its thread). */
  exposed_stop(): Promise<void> {
    return Effect.runPromise(Fiber.interrupt(this.fiber).pipe(Effect.asVoid))
  }
}

export class FileMonitorService extends Service {
  // exposing names is not limited to methods: a class the client constructs remotely
  exposed_FileMonitor = FileMonitor

  /** How many monitors are running in the server (on `filename`, if given). */
  exposed_running(filename?: string): number {
    return [...FileMonitor.running].filter((m) => filename === undefined || m.exposed_filename === filename).length
  }
}

/** A stat tuple as `os.stat_result(st_mode=…, …)`, for printing. */
export const formatStat = (stat: ReadonlyArray<unknown> | null): string =>
  stat === null ? "None" : `os.stat_result(${STAT_FIELDS.map((name, i) => `${name}=${String(stat[i])}`).join(", ")})`
