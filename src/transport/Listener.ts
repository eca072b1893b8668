/**
 * What the listeners of this library share (`Tcp.fromNetServer` for TCP, Unix sockets and TLS;
 * `WebSocketServer` for WebSocket): tracking every raw connection so that closing never waits on a
 * peer, listening with a clear error, and the accept loop that serves each ready connection in its
 * own fiber, or hands it to a plain callback (`runDirect`) for a server that needs no fiber per
 * connection (connections that arrive before the loop runs are kept for it).
 *
 * @since 0.1.0
 */
import * as SocketServer from "@effect/platform/SocketServer"
import type * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import type * as Net from "node:net"

/**
 * Same reporting as NodeSocketServer: at the fiber's unhandled-error log level (default Debug).
 *
 * @since 0.1.0 @category logging
 */
export const reportUnhandledError = <E>(cause: Cause.Cause<E>): Effect.Effect<void> =>
  Effect.withFiberRuntime<void>((fiber) => {
    const level = fiber.getFiberRef(FiberRef.unhandledErrorLogLevel)
    return level._tag === "Some"
      ? Effect.logWithLevel(level.value, cause, "Unhandled error in SocketServer")
      : Effect.void
  })

/**
 * Every raw connection of `server` while it is open, including TLS handshakes and HTTP upgrades in
 * progress, so that a close can destroy them all.
 *
 * @since 0.1.0 @category constructors
 */
export const trackConnections = (server: Net.Server): ReadonlySet<Net.Socket> => {
  const open = new Set<Net.Socket>()
  server.on("connection", (raw: Net.Socket) => {
    open.add(raw)
    raw.once("close", () => open.delete(raw))
  })
  return open
}

/**
 * Listens, failing with `listenError(cause)` (address in use, permission, bad options). When the scope closes the server stops listening and `closeAll` runs, which must close
 * every connection still open, so that closing never waits on a peer.
 *
 * @since 0.1.0 @category constructors
 */
export const listen = (
  server: Net.Server,
  options: Net.ListenOptions,
  listenError: (cause: unknown) => SocketServer.SocketServerError,
  closeAll: () => void
): Effect.Effect<void, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        // the callback runs once every connection is gone (or at once, with an error, if never listening)
        server.close(() => resume(Effect.void))
        closeAll()
      })
    )
    yield* Effect.async<void, SocketServer.SocketServerError>((resume) => {
      const onError = (cause: Error) => {
        resume(Effect.fail(listenError(cause)))
      }
      server.once("error", onError)
      try {
        server.listen(options, () => {
          server.off("error", onError)
          resume(Effect.void)
        })
      } catch (cause) {
        // bad listen options throw synchronously
        server.off("error", onError)
        resume(Effect.fail(listenError(cause)))
      }
    })
  })

/**
 * The accept loop of a listener whose ready connections are `A`s.
 *
 * @since 0.1.0 @category models
 */
export interface AcceptLoop<A> {
  /** Hands a connection ready to carry data to the running loop, or keeps it until one runs. */
  readonly ready: (accepted: A) => void
  /** Takes the connections kept for a loop that never came, for the listener to close them. */
  readonly takePending: () => Array<A>
  /** A server error: the running loop fails with `SocketServerError` reason `"Unknown"`. */
  readonly fail: (cause: Error) => void
  /**
   * Serves every ready connection with `serve` in a fiber of its own until interrupted; interrupting
   * it interrupts them, and connections arriving afterwards are kept again.
   */
  readonly run: <R>(
    serve: (accepted: A) => Effect.Effect<void, never, R>
  ) => Effect.Effect<never, SocketServer.SocketServerError, R>
  /**
   * Hands every ready connection to `onReady` at once, with no fiber, until interrupted (connections
   * arriving afterwards are kept again); `onReady` owns them: interrupting this closes none.
   */
  readonly runDirect: (onReady: (accepted: A) => void) => Effect.Effect<never, SocketServer.SocketServerError>
}

/**
 * Makes an accept loop; the listener calls `ready` with each connection and `fail` on a server error.
 *
 * @since 0.1.0 @category constructors
 */
export const makeAcceptLoop = <A>(): Effect.Effect<AcceptLoop<A>> =>
  Effect.gen(function*() {
    const errorDeferred = yield* Deferred.make<never, Error>()
    const pending: Array<A> = []
    let onReady = (accepted: A): void => {
      pending.push(accepted)
    }
    const serverError = Effect.mapError(
      Deferred.await(errorDeferred),
      (cause) => new SocketServer.SocketServerError({ reason: "Unknown", cause })
    )
    /** Makes `take` the taker of ready connections until interrupted, then `release` runs. */
    const takeUntilInterrupted = (take: (accepted: A) => void, release: Effect.Effect<void>) =>
      Effect.async<never>(() => {
        const previous = onReady
        onReady = take
        for (const accepted of pending.splice(0)) take(accepted)
        return Effect.suspend(() => {
          onReady = previous
          return release
        })
      }).pipe(Effect.raceFirst(serverError))
    return {
      ready: (accepted) => onReady(accepted),
      takePending: () => pending.splice(0),
      fail: (cause) => {
        Deferred.unsafeDone(errorDeferred, Exit.fail(cause))
      },
      run: <R>(serve: (accepted: A) => Effect.Effect<void, never, R>) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const fiberSet = yield* FiberSet.make().pipe(Scope.extend(scope))
          const runFork = yield* FiberSet.runtime(fiberSet)<R>()
          return yield* takeUntilInterrupted(
            (accepted) => {
              runFork(serve(accepted))
            },
            Scope.close(scope, Exit.void)
          )
        }),
      runDirect: (take) => takeUntilInterrupted(take, Effect.void)
    }
  })
