/**
 * An open Node duplex stream (`net.Socket`, `tls.TLSSocket`, a child's pipes) as a platform
 * `Socket`, with the capabilities the engine relies on (`StreamCapabilities`):
 *
 * - **backpressure**: `write` resolves at once while the stream accepts data and waits for `drain`
 *   when it does not; reading can be paused and resumed;
 * - **half-close**: the peer's end of stream ends `run` successfully, and writing goes on until the
 *   writer is released (a peer that shut its write side still gets its replies; `net` sockets must
 *   be made with `allowHalfOpen: true` for that);
 * - **one write per frame** when asked (TLS: each frame in its own record).
 *
 * Like `NodeSocket.fromDuplex`: `run` fails with `SocketGenericError` ("Read") on a stream error and
 * with `SocketCloseError` when the stream closes before its end (also after a local `CloseEvent`,
 * ARCHITECTURE.md, Effect note E3); handler Effects run in fibers of their own, made only for them (E2); when `run` is
 * interrupted the stream is closed once queued writes are flushed.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type { Duplex } from "node:stream"
import * as StreamCapabilities from "../internal/base/StreamCapabilities.js"

/** @since 0.1.0 @category models */
export interface Options {
  /** Write each frame on its own (TLS toward peers that read one record at a time). */
  readonly writePerFrame?: boolean | undefined
  /** An error the stream emitted before it was handed over (the first `run` fails with it). */
  readonly failure?: Error | undefined
}

const closeSoon = (stream: Duplex): void => {
  if (stream.destroyed) return
  const soon = (stream as Duplex & { destroySoon?: () => void }).destroySoon
  if (typeof soon === "function") soon.call(stream)
  else stream.end(() => stream.destroy())
}

/**
 * Wraps an open duplex stream. Data that arrived before `run` stays buffered in the stream.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (stream: Duplex, options: Options = {}): Socket.Socket => {
  const close = closeSoon
  let failure: Error | undefined = options.failure
  let ended = false
  /** writers acquired and not released: after the peer's end, the stream closes when none is left */
  let writers = 0
  let consumed = false
  stream.on("error", (error) => {
    failure ??= error
  })
  stream.once("end", () => {
    ended = true
  })

  const listen: StreamCapabilities.Listen = (onChunk, onEnd) => {
    if (failure !== undefined) return Exit.fail(new Socket.SocketGenericError({ reason: "Read", cause: failure }))
    // one reader per stream: what it read is gone
    if (consumed || stream.destroyed) return Exit.fail(new Socket.SocketCloseError({ reason: "Close", code: 1000 }))
    consumed = true
    let reading = true
    const detach = () => {
      reading = false
      stream.off("data", onChunk)
      stream.off("end", onStreamEnd)
      stream.off("error", onError)
      stream.off("close", onClose)
      // ended with nobody left to write: nothing more can happen on this stream
      if (ended && writers === 0) close(stream)
    }
    const finish = (exit: Exit.Exit<void, Socket.SocketError>) => {
      if (!reading) return
      detach()
      if (Exit.isFailure(exit)) close(stream)
      onEnd(exit)
    }
    const onStreamEnd = () => finish(Exit.void)
    const onError = (cause: Error) => finish(Exit.fail(new Socket.SocketGenericError({ reason: "Read", cause })))
    const onClose = (hadError: boolean) =>
      finish(Exit.fail(new Socket.SocketCloseError({ reason: "Close", code: hadError ? 1006 : 1000 })))
    stream.on("end", onStreamEnd)
    stream.on("error", onError)
    stream.on("close", onClose)
    stream.on("data", onChunk)
    return Exit.succeed(() => {
      if (reading) detach()
      // stopped (the connection closes): flush what was queued, then close
      close(stream)
    })
  }

  const run = <_, E, R>(
    handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
    opts?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> =>
    Effect.flatMap(Effect.runtime<R>(), (runtime) => {
      const done = Deferred.unsafeMake<void, E | Socket.SocketError>(FiberId.none)
      // the fibers of handlers that return Effects, made only for such handlers (E2): a failure ends `run`
      let fibers: Set<Fiber.RuntimeFiber<unknown, unknown>> | undefined
      const onData = (chunk: Uint8Array) => {
        const result = handler(chunk)
        if (!Effect.isEffect(result)) return
        const fiber = Runtime.runFork(runtime)(result)
        const live = fibers ??= new Set()
        live.add(fiber)
        fiber.addObserver((exit) => {
          live.delete(fiber)
          if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
            Deferred.unsafeDone(done, Exit.failCause(exit.cause))
          }
        })
      }
      const started = listen(onData, (exit) => Deferred.unsafeDone(done, exit as Exit.Exit<void, Socket.SocketError>))
      if (Exit.isFailure(started)) return started as Exit.Exit<never, Socket.SocketError>
      const wait = Deferred.await(done)
      return (opts?.onOpen ? Effect.zipRight(opts.onOpen, wait) : wait).pipe(
        Effect.onExit((exit) => {
          // interrupted, or a handler failed: stop reading and close; the stream's own end needs nothing
          if (Exit.isFailure(exit)) started.value()
          return fibers === undefined || fibers.size === 0 ? Effect.void : Fiber.interruptAll(fibers)
        })
      )
    })

  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      if (Socket.isCloseEvent(chunk)) {
        stream.destroy(chunk.code > 1000 ? new Error(`closed with code ${chunk.code}`) : undefined)
        return Effect.void
      }
      if (stream.destroyed || stream.writableEnded) {
        return Effect.fail(
          new Socket.SocketGenericError({ reason: "Write", cause: failure ?? new Error("the stream is closed") })
        )
      }
      if (options.writePerFrame === true) {
        // Node joins writes queued behind a pending one into one TLS record: wait for each to go out
        return Effect.async<void, Socket.SocketError>((resume) => {
          stream.write(chunk, (error) =>
            resume(
              error ? Effect.fail(new Socket.SocketGenericError({ reason: "Write", cause: error })) : Effect.void
            ))
        })
      }
      if (stream.write(chunk)) return Effect.void
      return Effect.async<void, Socket.SocketError>((resume) => {
        const onDrain = () => {
          stream.off("close", onClose)
          resume(Effect.void)
        }
        const onClose = () => {
          stream.off("drain", onDrain)
          resume(
            Effect.fail(
              new Socket.SocketGenericError({ reason: "Write", cause: failure ?? new Error("closed before drain") })
            )
          )
        }
        stream.once("drain", onDrain)
        stream.once("close", onClose)
        return Effect.sync(() => {
          stream.off("drain", onDrain)
          stream.off("close", onClose)
        })
      })
    })

  /** Holds the stream open for writing; releasing the hold (once) ends our side. */
  const hold = (): () => void => {
    writers++
    let held = true
    return () => {
      if (!held) return
      held = false
      writers--
      if (!stream.destroyed && !stream.writableEnded) stream.end()
      if (ended) close(stream)
    }
  }
  const writer: Effect.Effect<typeof write, never, Scope.Scope> = Effect.as(
    Effect.acquireRelease(Effect.sync(hold), (release) => Effect.sync(release)),
    write
  )

  const socket = Socket.Socket.of({
    [Socket.TypeId]: Socket.TypeId,
    run,
    runRaw: run as Socket.Socket["runRaw"],
    writer
  })
  // the engine joins the frames of one turn of the event loop into one chunk
  const direct: StreamCapabilities.DirectWriter = {
    write: (chunk, written) => {
      if (stream.destroyed || stream.writableEnded) return
      if (written === undefined) stream.write(chunk)
      // Node calls back once the chunk has gone to the system: for a socket or a pipe the kernel has
      // copied it. (An in-memory Duplex hands the chunk itself on: such a stream must not get here.)
      else stream.write(chunk, (error) => error == null && written())
    },
    buffered: () => stream.writableLength,
    onDrain: (f) => {
      stream.on("drain", f)
    },
    hold
  }
  return StreamCapabilities.attach(socket, {
    listen,
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    writableAfterEnd: true,
    writePerFrame: options.writePerFrame === true,
    direct: options.writePerFrame === true ? undefined : direct
  })
}
