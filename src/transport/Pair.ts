/**
 * An in-memory, connected pair of Sockets: what one side writes, the other side's `run` handler
 * receives, in order. For in-process connections (RPyC's `connect_thread`) and fast engine tests.
 *
 * It follows the semantics of the node-backed sockets (`NodeSocket.fromDuplex`) so code tested over a
 * pair behaves the same over TCP:
 * - releasing a writer's scope is a half-close (FIN): the peer's `run` delivers what was already written
 *   and then **succeeds**; this side can still receive;
 * - writing a `CloseEvent` tears the connection down: this side's `run` fails with
 *   `SocketCloseError` (the given code, Effect note E3) at once, dropping what it had not read yet; the
 *   peer's `run` delivers what was already written to it and then fails with the same
 *   `SocketCloseError`; further writes on either side fail with a `Write` error;
 * - handler Effects are forked per chunk, exactly as `fromDuplex` does (Effect note E2): keep handlers
 *   synchronous.
 *
 * Differences, on purpose: writes never wait for `run` to start (there is no connection to open, so
 * Effect note E1 cannot happen), and chunks arrive exactly as written (no TCP coalescing or splitting; the
 * bytes are copied, so reusing a buffer after writing it is safe). Each side supports one `run` at a time.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Mailbox from "effect/Mailbox"
import type * as Scope from "effect/Scope"

/** State shared by both sides. */
interface Connection {
  /** Set once the connection was torn down (a `CloseEvent` on either side, or the scope closing). */
  closed: boolean
}

/** One side: its receiving end plus its writing state. */
interface Side {
  readonly connection: Connection
  /** Chunks written by the peer, not yet handed to this side's handler. */
  readonly inbox: Mailbox.Mailbox<Uint8Array, Socket.SocketError>
  /** Why this side may no longer write: its writer was released (FIN) or the connection was torn down. */
  writeError: Socket.SocketError | undefined
}

const encoder = new TextEncoder()

const writeAfterEnd = () => new Socket.SocketGenericError({ reason: "Write", cause: new Error("write after end") })

const writeAfterClose = (code: number) =>
  new Socket.SocketGenericError({ reason: "Write", cause: new Error(`socket closed (${code})`) })

/** Tears the connection down from `self`'s end; does nothing if it already was. */
const tearDown = (self: Side, peer: Side, event: Socket.CloseEvent): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (self.connection.closed) return Effect.void
    self.connection.closed = true
    const error = new Socket.SocketCloseError({
      reason: "Close",
      code: event.code,
      ...(event.reason === undefined ? {} : { closeReason: event.reason })
    })
    self.writeError = writeAfterClose(event.code)
    peer.writeError = writeAfterClose(event.code)
    // the peer gets what was already sent before the close, like data in flight before a FIN/RST
    peer.inbox.unsafeDone(Exit.fail(error))
    // this side stops reading at once, like a destroyed socket: unread data is dropped
    return Effect.zipRight(Effect.ignore(self.inbox.clear), self.inbox.done(Exit.fail(error)))
  })

const makeSocket = (self: Side, peer: Side): Socket.Socket => {
  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      if (Socket.isCloseEvent(chunk)) return tearDown(self, peer, chunk)
      if (self.writeError !== undefined) return Effect.fail(self.writeError)
      // copy, as a real socket does, so the caller may reuse its buffer
      peer.inbox.unsafeOffer(typeof chunk === "string" ? encoder.encode(chunk) : chunk.slice())
      return Effect.void
    })

  const endWrite = Effect.sync(() => {
    if (self.writeError !== undefined) return
    self.writeError = writeAfterEnd()
    peer.inbox.unsafeDone(Exit.void)
  })

  const run = <_, E = never, R = never>(
    handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
    options?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> =>
    Effect.scoped(
      Effect.gen(function*() {
        const fiberSet = yield* FiberSet.make<unknown, Socket.SocketError | E>()
        const runFork = yield* FiberSet.runtime(fiberSet)<R>()
        // the reader: hands chunks to the handler in order; its end (EOF or close) ends `run`, and
        // a failing handler Effect fails the FiberSet and with it `run`, as in fromDuplex
        const read: Effect.Effect<void, Socket.SocketError> = Effect.gen(function*() {
          while (true) {
            const [chunks, done] = yield* self.inbox.takeAll
            for (const chunk of chunks) {
              const result = handler(chunk)
              if (Effect.isEffect(result)) runFork(result)
            }
            if (done) return
          }
        })
        runFork(
          Effect.matchCauseEffect(read, {
            onSuccess: () => Deferred.done(fiberSet.deferred, Exit.void),
            onFailure: (cause) => Deferred.failCause(fiberSet.deferred, cause)
          })
        )
        if (options?.onOpen) yield* options.onOpen
        return yield* FiberSet.join(fiberSet)
      })
    )

  return Socket.Socket.of({
    [Socket.TypeId]: Socket.TypeId,
    run,
    runRaw: run,
    writer: Effect.acquireRelease(Effect.succeed(write), () => endWrite)
  })
}

/**
 * Makes a connected pair `[a, b]`. When the scope closes, the connection is torn down (as if either
 * side had written a `CloseEvent(1000)`), so `run`s still going elsewhere fail with `SocketCloseError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Effect.Effect<readonly [Socket.Socket, Socket.Socket], never, Scope.Scope> =>
  Effect.gen(function*() {
    const connection: Connection = { closed: false }
    const a: Side = { connection, inbox: yield* Mailbox.make<Uint8Array, Socket.SocketError>(), writeError: undefined }
    const b: Side = { connection, inbox: yield* Mailbox.make<Uint8Array, Socket.SocketError>(), writeError: undefined }
    yield* Effect.addFinalizer(() => tearDown(a, b, new Socket.CloseEvent(1000)))
    return [makeSocket(a, b), makeSocket(b, a)] as const
  })
