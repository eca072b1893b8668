/**
 * RPyC's `OneShotServer`: listens (TCP, Unix socket or TLS, as `Server.make`), serves the first
 * connection, then closes itself; `server.done` resolves then. A client's wire-version probe
 * (`Client.PROBE_FRAME`, sent by clients with `wireVersion: "auto"` before they connect) is answered
 * but does not count as that connection.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Client from "../client/Client.js"
import * as Logging from "../Logging.js"
import type * as Service from "../service/Service.js"
import * as Server from "./Server.js"

/**
 * Options of {@link make}: those of `Server.make` without registration (a server that serves one
 * client is not worth announcing).
 *
 * @since 0.1.0 @category models
 */
export interface Options extends Server.ListenOptions, Server.ServeOptions {}

/**
 * A one-shot server: a `Server.Server` plus `done`.
 *
 * @since 0.1.0 @category models
 */
export interface OneShotServer extends Server.Server {
  /** Resolves once the one connection has been served and the listener is closed. */
  readonly done: Effect.Effect<void>
}

/**
 * `socket`, calling `onProbe` as soon as its first bytes are a client's wire-version probe.
 */
const watchProbe = (socket: Socket.Socket, onProbe: () => void): Socket.Socket => {
  const probe = Client.PROBE_FRAME
  let seen = 0 // bytes of the probe frame matched so far; -1 once it is something else
  const observe = (chunk: Uint8Array): void => {
    for (let i = 0; i < chunk.length && seen >= 0 && seen < probe.length; i++) {
      seen = chunk[i] === probe[seen] ? seen + 1 : -1
    }
    if (seen === probe.length) {
      seen = -1
      onProbe()
    }
  }
  return {
    [Socket.TypeId]: Socket.TypeId,
    run: (handler, options) =>
      socket.run((chunk) => {
        if (seen >= 0) observe(chunk)
        return handler(chunk)
      }, options),
    runRaw: socket.runRaw,
    writer: socket.writer
  }
}

/**
 * Listens, serves the first connection, then closes the listener. Connections arriving meanwhile are
 * closed without being served. `server.done` resolves when all of that is over; closing the scope
 * earlier closes everything.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  service: Service.ServiceSpec,
  options: Options = {}
): Effect.Effect<OneShotServer, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const closed = yield* Deferred.make<void>()
    // registered before the listener's scope, so that it runs after it: `done` means really closed
    yield* Effect.addFinalizer(() => Deferred.succeed(closed, undefined))
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const listener = yield* Server.listen(service, options).pipe(Scope.extend(scope))
    const name = Server.loggerName(service, listener.address)
    const served = yield* Deferred.make<void>()
    let taken = false
    const oneShot: SocketServer.SocketServer["Type"] = {
      address: listener.address,
      run: (handler) =>
        listener.run((socket) => {
          if (taken) return Effect.void // returning closes the connection
          taken = true
          // a probe is answered, and frees the slot at once: the client's real connection follows
          let probe = false
          const watched = watchProbe(socket, () => {
            probe = true
            taken = false
          })
          return handler(watched).pipe(
            Effect.ensuring(Effect.suspend(() => probe ? Effect.void : Deferred.succeed(served, undefined)))
          )
        }) as never
    }
    const server = yield* Server.serve(oneShot, service, {
      ...options,
      configFor: Server.tlsConfig(options)
    }).pipe(Scope.extend(scope))
    // not in `scope` itself: closing a scope from one of its own fibers would wait on itself
    yield* Deferred.await(served).pipe(
      Effect.zipRight(Scope.close(scope, Exit.void)),
      Effect.zipRight(Effect.logInfo("listener closed").pipe(Effect.annotateLogs(Logging.LOGGER_NAME, name))),
      Effect.ensuring(Deferred.succeed(closed, undefined)),
      Effect.forkScoped
    )
    return { ...server, done: Deferred.await(closed) }
  })
