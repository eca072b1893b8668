/**
 * Remoting helpers of classic connections (RPyC's `rpyc.utils.classic`, PROTOCOL.md §5.3),
 * against both kinds of classic server:
 *
 * | RPyC                                   | effect-rpyc                                       |
 * |----------------------------------------|---------------------------------------------------|
 * | `upload(conn, local, remote, filter)`  | `upload(c, local, remote, { filter, chunkSize, onProgress })` |
 * | `download(conn, remote, local, filter)`| `download(c, remote, local, { … })`               |
 * | `with redirected_stdio(conn): …`       | `yield* redirectedStdio(c)` in a scope, or `await withRedirectedStdio(c, async () => …)` |
 * | `obtain(proxy)`                        | `obtain(ref)` (`Operations.obtain`)               |
 * | `deliver(conn, obj)`                   | `deliver(c, value)`                               |
 *
 * Files and whole directories are copied in chunks (64000 bytes by default, RPyC's
 * `STREAM_CHUNK`); `onProgress` is told after every chunk. A Python server is driven as RPyC does
 * it (`builtins.open`, `os.path.isdir`, `os.listdir`, `os.makedirs`, …); a TypeScript server
 * through Node's `fs` and `path` (`openSync` / `writeSync`, a read stream, `statSync`,
 * `readdirSync`, `mkdirSync`). Every helper returns a value that can be awaited or yielded.
 *
 * `redirectedStdio` makes the server's standard output and error appear on this side while it is
 * active: it assigns the server's `sys.stdout` / `sys.stderr` to proxies of local writers and
 * restores them afterwards. On a Python server that redirects `print`; on a TypeScript server the
 * `sys` stand-in redirects `process.stdout` / `process.stderr` (so `console.log` too). As in RPyC
 * the redirection is process-wide on the server, and standard input is not redirected.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Awaitable from "../internal/base/Awaitable.js"
import type { RemoteFailure } from "../internal/base/Errors.js"
import * as Netref from "../internal/netref/Netref.js"
import * as RemoteOp from "../internal/netref/RemoteOp.js"
import * as Pickle from "../internal/wire/Pickle.js"
import * as Operations from "../netref/Operations.js"
import type { ClassicConnection } from "./ClassicConnection.js"

/**
 * A local file problem, or a path that is neither a file nor a directory.
 *
 * @since 0.1.0 @category errors
 */
export class RemotingError extends Data.TaggedError("RemotingError")<{
  readonly reason: "InvalidPath" | "LocalIO"
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * Where a transfer is.
 *
 * @since 0.1.0 @category models
 */
export interface Progress {
  /** The local file. */
  readonly local: string
  /** The remote file. */
  readonly remote: string
  /** Bytes copied so far. */
  readonly bytes: number
  /** The file's size, when known. */
  readonly total: number | undefined
  /** Whether the file is complete. */
  readonly done: boolean
}

/**
 * Options of `upload` / `download`.
 *
 * @since 0.1.0 @category models
 */
export interface TransferOptions {
  /** Which entries of a directory to copy (given the entry's name); default all. */
  readonly filter?: ((name: string) => boolean) | undefined
  /** Skip a path that is neither a file nor a directory instead of failing. */
  readonly ignoreInvalid?: boolean | undefined
  /** Bytes per chunk (default 64000). */
  readonly chunkSize?: number | undefined
  /** Called after every chunk, and once more when a file is complete. */
  readonly onProgress?: ((progress: Progress) => void) | undefined
}

/** RPyC's `STREAM_CHUNK`. */
const STREAM_CHUNK = 64000

type Failure = RemotingError | RemoteFailure

const local = <A>(path: string, f: () => Promise<A>): Effect.Effect<A, RemotingError> =>
  Effect.tryPromise({
    try: f,
    catch: (e) =>
      new RemotingError({ reason: "LocalIO", path, detail: `${path}: ${(e as Error)?.message ?? String(e)}` })
  })

const remote = <A = any>(op: unknown): Effect.Effect<A, RemoteFailure> =>
  RemoteOp.toEffect(op) as Effect.Effect<A, RemoteFailure>

const localKind = (path: string): Effect.Effect<"dir" | "file" | "none"> =>
  Effect.promise(() =>
    Fs.stat(path).then((s) => (s.isDirectory() ? "dir" : s.isFile() ? "file" : "none"), () => "none" as const)
  )

/** Releases a netref now (the file objects a transfer opens), ignoring anything else. */
const drop = (u: unknown): void => {
  if (Netref.isNetref(u)) Netref.release(u)
}

// ---------------------------------------------------------------------------------------------
// the remote file system, as each kind of server offers it

interface RemoteFs {
  readonly kind: (
    path: string
  ) => Effect.Effect<{ readonly kind: "dir" | "file" | "none"; readonly size?: number }, RemoteFailure>
  readonly makedirs: (path: string) => Effect.Effect<void, RemoteFailure>
  readonly listdir: (path: string) => Effect.Effect<ReadonlyArray<string>, RemoteFailure | Pickle.PickleError>
  readonly join: (dir: string, name: string) => Effect.Effect<string, RemoteFailure>
  /** Opens `path` for writing and returns the chunk writer and the closer. */
  readonly create: (path: string) => Effect.Effect<{
    readonly write: (chunk: Uint8Array) => Effect.Effect<void, RemoteFailure>
    readonly close: Effect.Effect<void>
  }, RemoteFailure>
  /** Reads `path` chunk by chunk into `sink`. */
  readonly read: (
    path: string,
    chunkSize: number,
    sink: (chunk: Uint8Array) => Effect.Effect<void, RemotingError>
  ) => Effect.Effect<void, Failure>
}

const pythonFs = (c: ClassicConnection): RemoteFs => {
  const osPath = c.modules["os.path"]
  return {
    kind: (path) =>
      Effect.gen(function*() {
        if (yield* remote<boolean>(osPath.isdir(path))) return { kind: "dir" as const }
        if (yield* remote<boolean>(osPath.isfile(path))) {
          return { kind: "file" as const, size: Number(yield* remote(osPath.getsize(path))) }
        }
        return { kind: "none" as const }
      }),
    makedirs: (path) => Effect.asVoid(remote(c.modules.os.makedirs(path))),
    listdir: (path) =>
      Operations.obtain(c.modules.os.listdir(path)) as Effect.Effect<
        ReadonlyArray<string>,
        RemoteFailure | Pickle.PickleError
      >,
    join: (dir, name) => remote<string>(osPath.join(dir, name)),
    create: (path) =>
      Effect.map(remote(c.builtins.open(path, "wb")), (file) => ({
        write: (chunk: Uint8Array) => Effect.asVoid(remote(file.write(chunk))),
        close: Effect.ignore(remote(file.close())).pipe(Effect.ensuring(Effect.sync(() => drop(file))))
      })),
    read: (path, chunkSize, sink) =>
      Effect.acquireUseRelease(
        remote(c.builtins.open(path, "rb")),
        (file) =>
          Effect.gen(function*() {
            while (true) {
              const chunk = yield* remote<Uint8Array>(file.read(chunkSize))
              if (!(chunk instanceof Uint8Array) || chunk.length === 0) return
              yield* sink(chunk)
            }
          }),
        (file) => Effect.ignore(remote(file.close())).pipe(Effect.ensuring(Effect.sync(() => drop(file))))
      )
  }
}

const jsFs = (c: ClassicConnection): RemoteFs => {
  const fs = c.modules.fs
  return {
    kind: (path) =>
      Effect.gen(function*() {
        const stats = yield* remote(fs.statSync(path, RemoteOp.kwargs({ throwIfNoEntry: false })))
        if (stats === null || stats === undefined) return { kind: "none" as const }
        try {
          if (yield* remote<boolean>(stats.isDirectory())) return { kind: "dir" as const }
          if (yield* remote<boolean>(stats.isFile())) {
            return { kind: "file" as const, size: Number(yield* remote(stats.size)) }
          }
          return { kind: "none" as const }
        } finally {
          drop(stats)
        }
      }),
    makedirs: (path) => Effect.asVoid(remote(fs.mkdirSync(path, RemoteOp.kwargs({ recursive: true })))),
    listdir: (path) => Effect.map(remote<ReadonlyArray<unknown>>(fs.readdirSync(path)), (names) => names.map(String)),
    join: (dir, name) => remote<string>(c.modules.path.join(dir, name)),
    create: (path) =>
      Effect.map(remote<number>(fs.openSync(path, "w")), (fd) => ({
        write: (chunk: Uint8Array) =>
          Effect.gen(function*() {
            let rest = chunk
            while (rest.length > 0) {
              const written = Number(yield* remote(fs.writeSync(fd, rest)))
              if (!(written > 0)) break
              rest = rest.subarray(written)
            }
          }),
        close: Effect.ignore(remote(fs.closeSync(fd)))
      })),
    read: (path, chunkSize, sink) =>
      Effect.acquireUseRelease(
        remote(fs.createReadStream(path, RemoteOp.kwargs({ highWaterMark: chunkSize }))),
        (stream) =>
          Effect.gen(function*() {
            // the stream's async iterator, one chunk per request
            const iterator = yield* remote(Operations.getattr(stream, "__iter__")())
            try {
              while (true) {
                const next = yield* Effect.either(remote(iterator.__next__()))
                if (next._tag === "Left") {
                  if (next.left._tag === "RemoteError" && next.left.name === "StopIteration") return
                  return yield* next.left
                }
                yield* sink(
                  next.right instanceof Uint8Array ? next.right : new TextEncoder().encode(String(next.right))
                )
              }
            } finally {
              drop(iterator)
            }
          }),
        (stream) => Effect.ignore(remote(stream.destroy())).pipe(Effect.ensuring(Effect.sync(() => drop(stream))))
      )
  }
}

const remoteFs = (c: ClassicConnection): RemoteFs => (c.peer === "js" ? jsFs(c) : pythonFs(c))

// ---------------------------------------------------------------------------------------------
// upload / download

interface Transfer {
  readonly fs: RemoteFs
  readonly filter: ((name: string) => boolean) | undefined
  readonly chunkSize: number
  readonly onProgress: ((p: Progress) => void) | undefined
}

const transferOf = (c: ClassicConnection, options: TransferOptions): Transfer => ({
  fs: remoteFs(c),
  filter: options.filter,
  chunkSize: Math.max(1, Math.floor(options.chunkSize ?? STREAM_CHUNK)),
  onProgress: options.onProgress
})

const invalid = (path: string, what: string) =>
  new RemotingError({
    reason: "InvalidPath",
    path,
    detail: `cannot ${what} ${JSON.stringify(path)}: not a file or a directory`
  })

const uploadFile = (t: Transfer, localPath: string, remotePath: string): Effect.Effect<void, Failure> =>
  Effect.acquireUseRelease(
    local(localPath, () => Fs.open(localPath, "r")),
    (handle) =>
      Effect.gen(function*() {
        const total = (yield* local(localPath, () => handle.stat())).size
        const file = yield* t.fs.create(remotePath)
        yield* Effect.gen(function*() {
          const buffer = Buffer.alloc(t.chunkSize)
          let bytes = 0
          while (true) {
            const { bytesRead } = yield* local(localPath, () => handle.read(buffer, 0, t.chunkSize, null))
            if (bytesRead === 0) break
            // a copy: the buffer is reused for the next chunk
            yield* file.write(Uint8Array.prototype.slice.call(buffer, 0, bytesRead))
            bytes += bytesRead
            t.onProgress?.({ local: localPath, remote: remotePath, bytes, total, done: false })
          }
          t.onProgress?.({ local: localPath, remote: remotePath, bytes, total, done: true })
        }).pipe(Effect.ensuring(file.close))
      }),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  )

const uploadAny = (
  t: Transfer,
  localPath: string,
  remotePath: string,
  ignoreInvalid: boolean
): Effect.Effect<void, Failure> =>
  Effect.gen(function*() {
    const kind = yield* localKind(localPath)
    if (kind === "file") return yield* uploadFile(t, localPath, remotePath)
    if (kind === "none") {
      if (ignoreInvalid) return
      return yield* invalid(localPath, "upload")
    }
    if ((yield* t.fs.kind(remotePath)).kind !== "dir") yield* t.fs.makedirs(remotePath)
    const names = yield* local(localPath, () => Fs.readdir(localPath))
    for (const name of names) {
      if (t.filter !== undefined && !t.filter(name)) continue
      yield* uploadAny(t, Path.join(localPath, name), yield* t.fs.join(remotePath, name), true)
    }
  })

/**
 * Copies a local file or directory (recursively) to `remotePath` on the server (RPyC's
 * `rpyc.classic.upload`).
 *
 * @since 0.1.0 @category remoting
 */
export const upload = (
  conn: ClassicConnection,
  localPath: string,
  remotePath: string,
  options: TransferOptions = {}
): Awaitable.Awaitable<void, RemotingError | RemoteFailure> =>
  Awaitable.make(
    Effect.suspend(() => uploadAny(transferOf(conn, options), localPath, remotePath, options.ignoreInvalid ?? false))
  )

const downloadFile = (
  t: Transfer,
  remotePath: string,
  localPath: string,
  total: number | undefined
): Effect.Effect<void, Failure> =>
  Effect.acquireUseRelease(
    local(localPath, () => Fs.open(localPath, "w")),
    (handle) =>
      Effect.gen(function*() {
        let bytes = 0
        yield* t.fs.read(remotePath, t.chunkSize, (chunk) =>
          Effect.gen(function*() {
            let offset = 0
            while (offset < chunk.length) {
              const { bytesWritten } = yield* local(localPath, () => handle.write(chunk, offset, chunk.length - offset))
              offset += bytesWritten
            }
            bytes += chunk.length
            t.onProgress?.({ local: localPath, remote: remotePath, bytes, total, done: false })
          }))
        t.onProgress?.({ local: localPath, remote: remotePath, bytes, total, done: true })
      }),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  )

const downloadAny = (
  t: Transfer,
  remotePath: string,
  localPath: string,
  ignoreInvalid: boolean
): Effect.Effect<void, Failure> =>
  Effect.gen(function*() {
    const remoteKind = yield* t.fs.kind(remotePath)
    if (remoteKind.kind === "file") return yield* downloadFile(t, remotePath, localPath, remoteKind.size)
    if (remoteKind.kind === "none") {
      if (ignoreInvalid) return
      return yield* invalid(remotePath, "download")
    }
    if ((yield* localKind(localPath)) !== "dir") yield* local(localPath, () => Fs.mkdir(localPath, { recursive: true }))
    const names = yield* Effect.mapError(t.fs.listdir(remotePath), (e) =>
      e._tag === "PickleError" ? new RemotingError({ reason: "InvalidPath", path: remotePath, detail: e.message }) : e)
    for (const name of names) {
      if (t.filter !== undefined && !t.filter(name)) {
        continue
      }
      yield* downloadAny(t, yield* t.fs.join(remotePath, name), Path.join(localPath, name), true)
    }
  })

/**
 * Copies a remote file or directory (recursively) to `localPath` (RPyC's
 * `rpyc.classic.download`).
 *
 * @since 0.1.0 @category remoting
 */
export const download = (
  conn: ClassicConnection,
  remotePath: string,
  localPath: string,
  options: TransferOptions = {}
): Awaitable.Awaitable<void, RemotingError | RemoteFailure> =>
  Awaitable.make(
    Effect.suspend(() => downloadAny(transferOf(conn, options), remotePath, localPath, options.ignoreInvalid ?? false))
  )

// ---------------------------------------------------------------------------------------------
// standard streams

/**
 * A local writable as a Python peer expects `sys.stdout` to be: `write(text)` (returns the
 * length), `flush()`, `isatty()`, `encoding`.
 */
class LocalStream {
  readonly encoding = "utf-8"
  readonly errors = "strict"
  readonly closed = false
  constructor(private readonly target: { write(chunk: string | Uint8Array): unknown }) {}
  write(data: unknown): number {
    if (data instanceof Uint8Array) {
      this.target.write(data)
      return data.length
    }
    const text = String(data)
    this.target.write(text)
    return text.length
  }
  flush(): null {
    return null
  }
  isatty(): boolean {
    return false
  }
  writable(): boolean {
    return true
  }
  readable(): boolean {
    return false
  }
}

/**
 * Where `redirectedStdio` sends the server's output (default: this process's stdout / stderr).
 *
 * @since 0.1.0 @category models
 */
export interface RedirectOptions {
  readonly stdout?: { write(chunk: string | Uint8Array): unknown } | undefined
  readonly stderr?: { write(chunk: string | Uint8Array): unknown } | undefined
}

/**
 * Shows the server's standard output and error on this side for the rest of the scope (RPyC's
 * `redirected_stdio`): assigns the server's `sys.stdout` / `sys.stderr`, and restores the
 * originals when the scope closes.
 *
 * @since 0.1.0 @category remoting
 */
export const redirectedStdio = (
  conn: ClassicConnection,
  options: RedirectOptions = {}
): Effect.Effect<void, RemoteFailure, Scope.Scope> => {
  const sys = conn.modules.sys
  return Effect.asVoid(Effect.acquireRelease(
    Effect.gen(function*() {
      const [stdout, stderr] = yield* Effect.all([remote(sys.stdout), remote(sys.stderr)], { concurrency: "unbounded" })
      yield* remote(Operations.setattr(sys, "stdout", new LocalStream(options.stdout ?? process.stdout)))
      yield* remote(Operations.setattr(sys, "stderr", new LocalStream(options.stderr ?? process.stderr)))
      return { stdout, stderr }
    }),
    (saved) =>
      conn.closed ? Effect.void : Effect.ignore(Effect.all([
        remote(Operations.setattr(sys, "stdout", saved.stdout)),
        remote(Operations.setattr(sys, "stderr", saved.stderr))
      ], { concurrency: "unbounded" }))
  ))
}

/**
 * Runs `body` with the server's output redirected here (see {@link redirectedStdio}), for
 * scripts: `await withRedirectedStdio(c, async () => { … })`.
 *
 * @since 0.1.0 @category remoting
 */
export const withRedirectedStdio = <A>(
  conn: ClassicConnection,
  body: () => A | PromiseLike<A>,
  options: RedirectOptions = {}
): Awaitable.Awaitable<A, RemoteFailure | unknown> =>
  Awaitable.make(Effect.scoped(Effect.zipRight(
    redirectedStdio(conn, options),
    Effect.tryPromise({ try: async () => await body(), catch: (e) => e })
  )))

// ---------------------------------------------------------------------------------------------
// values

/**
 * A local copy of a remote value (RPyC's `obtain`): `Operations.obtain`.
 *
 * @since 0.1.0 @category values
 */
export const obtain = Operations.obtain

/**
 * Recreates a local value on the server and yields a reference to it (RPyC's `deliver`): the
 * value is pickled here (plain data only: None, booleans, numbers, strings, bytes, arrays, plain
 * objects, Maps, Sets) and unpickled by the server's `rpyc.lib.compat.pickle.loads` (a Python
 * server's `pickle`, or the TypeScript server's stand-in, whose arrays come back by reference). A
 * scalar comes back as itself.
 *
 * @since 0.1.0 @category values
 */
export const deliver = (
  conn: ClassicConnection,
  value: unknown
): Awaitable.Awaitable<RemoteOp.Remote, RemoteFailure | Pickle.PickleError> =>
  Awaitable.make(Effect.flatMap(
    Pickle.encode(value),
    (bytes) => remote<RemoteOp.Remote>(conn.modules["rpyc.lib.compat"].pickle.loads(bytes))
  ))
