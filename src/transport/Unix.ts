/**
 * Unix-domain stream sockets (RPyC's `unix_connect` and `socket_path=`), built on the same blocks as
 * `Tcp` ({@link Tcp.connectWith}, {@link Tcp.fromNetServer}), so they behave exactly like TCP
 * connections and servers.
 *
 * What is specific to them is the socket file: a server removes a stale one left by a process that
 * died (but refuses to take over a live one), and removes its own when it closes.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Tcp from "./Tcp.js"

/**
 * Options for {@link connect}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** How long the connection may take to open; default 3 seconds (see `Tcp.ConnectOptions`). */
  readonly openTimeout?: Duration.DurationInput | undefined
}

/**
 * Options for {@link makeServer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions {
  /** Path of the socket file. A stale one (nobody listening) is removed first; it is removed on close. */
  readonly path: string
  /** Listen backlog; default Node's (511). */
  readonly backlog?: number | undefined
}

/**
 * Connects to a Unix-domain stream socket (RPyC's `unix_connect`). Same behaviour as `Tcp.connect`:
 * resolves once the connection is open, fails with `SocketGenericError` (reason `"Open"` /
 * `"OpenTimeout"`) otherwise.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  path: string,
  options: ConnectOptions = {}
): Effect.Effect<Socket.Socket, Socket.SocketError, Scope.Scope> =>
  Tcp.connectWith(() => Net.createConnection({ path, allowHalfOpen: true }), {
    readyEvent: "connect",
    openTimeout: options.openTimeout,
    address: path
  })

/**
 * Removes the file at `path` if it is a Unix socket nobody accepts on (left by a process that
 * died); fails with `SocketServerError` reason `"Open"` if the socket is live or the file is not a
 * socket.
 *
 * @since 0.1.0
 * @category utils
 */
export const removeStaleSocket = (path: string): Effect.Effect<void, SocketServer.SocketServerError> =>
  Effect.async<void, SocketServer.SocketServerError>((resume) => {
    let stat: Fs.Stats
    try {
      stat = Fs.lstatSync(path)
    } catch {
      return resume(Effect.void) // nothing there
    }
    const inUse = (cause: unknown) => resume(Effect.fail(new SocketServer.SocketServerError({ reason: "Open", cause })))
    if (!stat.isSocket()) return inUse(new Error(`${path} exists and is not a socket`))
    // a socket file: stale if connecting is refused, live (leave it alone) if it accepts
    const probe = Net.createConnection({ path })
    probe.once("connect", () => {
      probe.destroy()
      inUse(Object.assign(new Error(`listen EADDRINUSE: ${path} is in use`), { code: "EADDRINUSE" }))
    })
    probe.once("error", () => {
      probe.destroy()
      try {
        Fs.unlinkSync(path)
        resume(Effect.void)
      } catch (cause) {
        inUse(cause)
      }
    })
    return Effect.sync(() => probe.destroy())
  })

/**
 * Listens on a Unix-domain socket at `path` (RPyC's `socket_path=`). A stale socket file left by a
 * process that died is removed first; a path in use, or one that is not a socket, fails with
 * `SocketServerError` reason `"Open"`. The socket file is removed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeServer = (
  options: ServerOptions
): Effect.Effect<Tcp.Server, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    yield* removeStaleSocket(options.path)
    // Node unlinks the file itself on close; this covers the case where it did not. Registered before
    // the server so it runs after the server has closed; it checks the inode so that a socket another
    // server created at the same path meanwhile is left alone.
    let ino: number | undefined
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (ino === undefined) return
        try {
          const stat = Fs.lstatSync(options.path)
          if (stat.isSocket() && stat.ino === ino) Fs.unlinkSync(options.path)
        } catch {
          // already gone
        }
      })
    )
    const server = yield* Tcp.fromNetServer({
      make: (onConnection) => Net.createServer({ allowHalfOpen: true }, onConnection),
      listen: { path: options.path, ...(options.backlog === undefined ? {} : { backlog: options.backlog }) }
    })
    ino = Fs.statSync(options.path).ino
    return server
  })

/**
 * {@link makeServer} as a layer for the `SocketServer` service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer = (
  options: ServerOptions
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError> =>
  Layer.scoped(SocketServer.SocketServer, makeServer(options))
