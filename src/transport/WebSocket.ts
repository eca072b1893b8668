/**
 * RPyC over WebSocket, as @effect/platform `Socket`s, for browsers and Node alike (this module
 * imports nothing from `node:`; the WebSocket implementation comes from the platform's
 * `Socket.WebSocketConstructor`: `BrowserSocket.layerWebSocketConstructor` in a browser,
 * `NodeWebSocket.layerConstructor` or `NodeSocket.layerWebSocketConstructor` in Node).
 *
 * Framing (PROTOCOL.md §7.5): the RPyC byte stream is carried as it is in **binary** messages.
 * This package sends one whole RPyC frame per message (the socket asks the engine for one write per
 * frame); a receiver feeds every message's bytes to the ordinary frame decoder, so a message may hold
 * any part of a frame, or several (that is what makes a gateway a plain byte pipe). A **text**
 * message is a protocol error: that connection is closed with code 1003 and its `run` fails.
 *
 * Why not `Socket.makeWebSocket`? It turns text messages into bytes (they would reach the frame
 * decoder), sends without regard to `bufferedAmount` (a slow peer makes the sender buffer without
 * bound), reports a refused connection only once `run` starts, and, for an accepted connection,
 * listens for messages only once `run` starts, so what the client sends first can be lost. The
 * socket of {@link fromWebSocket} listens from the moment it is made, keeps what arrives until `run`,
 * waits while more than `maxBufferedBytes` are unsent, and can stop reading (Node's `ws`) when the
 * engine asks for backpressure.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as StreamCapabilities from "../internal/base/StreamCapabilities.js"

/**
 * The close code sent on a text message (RFC 6455 "unsupported data").
 *
 * @since 0.1.0 @category constants
 */
export const CLOSE_UNSUPPORTED_DATA = 1003

/**
 * Unsent bytes above which a write waits for the WebSocket to drain: 1 MiB.
 *
 * @since 0.1.0 @category constants
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024

/** How often a write that waits on `bufferedAmount` looks again (browsers have no drain event). */
const DRAIN_POLL_MILLIS = 5

const OPEN = 1
const CLOSING = 2

/**
 * Options of {@link fromWebSocket}.
 *
 * @since 0.1.0 @category models
 */
export interface SocketOptions {
  /**
   * A write waits while the WebSocket holds more than this many unsent bytes (default
   * {@link DEFAULT_MAX_BUFFERED_BYTES}); the engine then stops reading its peer.
   */
  readonly maxBufferedBytes?: number | undefined
}

/**
 * The connection was closed by the peer with a code that is not a normal closure, or a text message
 * arrived: the `SocketError` that ends `run`, with the close code and reason.
 *
 * @since 0.1.0 @category errors
 */
export class WebSocketClosed extends Socket.SocketGenericError {
  readonly code: number
  readonly closeReason: string
  constructor(options: { readonly code: number; readonly closeReason: string; readonly cause?: unknown }) {
    super({ reason: "Read", cause: options.cause })
    this.code = options.code
    this.closeReason = options.closeReason
  }
  override get message(): string {
    return `the WebSocket closed with code ${this.code}${this.closeReason === "" ? "" : ` (${this.closeReason})`}`
  }
}
Object.defineProperty(WebSocketClosed.prototype, "name", {
  value: "WebSocketClosed",
  writable: true,
  configurable: true
})

/** The bytes of a binary message, whatever `binaryType` produced them. */
const bytesOf = (data: unknown): Uint8Array | undefined => {
  if (data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return undefined
}

/** Node's `ws` can stop reading its socket; a browser's WebSocket cannot. */
interface Pausable {
  readonly pause?: (() => void) | undefined
  readonly resume?: (() => void) | undefined
}

/**
 * An open (or opening) WebSocket as a platform `Socket`, carrying RPyC as described in the module's
 * documentation. It listens from the moment it is made: messages that arrive before `run` are kept
 * and handed to it. `run` succeeds when the peer closes normally (1000, or 1001 "going away"), and
 * fails with {@link WebSocketClosed} for another code or a text message; when `run` ends the
 * WebSocket is closed. Releasing the writer closes it too (a WebSocket has no half-close). The
 * socket asks the engine for one write per frame, so each RPyC frame goes in a message of its own.
 *
 * @since 0.1.0 @category constructors
 */
export const fromWebSocket = (ws: globalThis.WebSocket, options: SocketOptions = {}): Socket.Socket => {
  const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
  if (ws.binaryType === "blob") ws.binaryType = "arraybuffer"
  let queued: Array<Uint8Array> = []
  let deliver: ((bytes: Uint8Array) => void) | undefined
  /** how the connection ended, once it has */
  let ended: Effect.Effect<void, Socket.SocketError> | undefined
  let onEnded: (() => void) | undefined
  let consumed = false

  const close = (code = 1000, reason = ""): void => {
    if (ws.readyState >= CLOSING) return
    try {
      ws.close(code, reason)
    } catch {
      // browsers accept only 1000 and 3000-4999 from scripts
      ws.close()
    }
  }
  const end = (result: Effect.Effect<void, Socket.SocketError>): void => {
    if (ended !== undefined) return
    ended = result
    ws.removeEventListener("message", onMessage)
    onEnded?.()
  }
  const onMessage = (event: MessageEvent): void => {
    const bytes = bytesOf(event.data)
    if (bytes === undefined) {
      const why = "a text message arrived: RPyC over WebSocket uses binary messages only"
      close(CLOSE_UNSUPPORTED_DATA, "binary messages only")
      end(
        Effect.fail(
          new WebSocketClosed({
            code: CLOSE_UNSUPPORTED_DATA,
            closeReason: "binary messages only",
            cause: new Error(why)
          })
        )
      )
      return
    }
    if (deliver !== undefined) deliver(bytes)
    else queued.push(bytes)
  }
  const onClose = (event: CloseEvent): void => {
    end(
      event.code === 1000 || event.code === 1001
        ? Effect.void
        : Effect.fail(new WebSocketClosed({ code: event.code, closeReason: event.reason }))
    )
  }
  const onError = (event: Event): void => {
    const cause = (event as { readonly error?: unknown }).error ?? new Error(messageOf(event) ?? "WebSocket error")
    end(Effect.fail(new Socket.SocketGenericError({ reason: "Read", cause })))
  }
  ws.addEventListener("message", onMessage)
  ws.addEventListener("close", onClose, { once: true })
  // not once: an error event with no listener left would be thrown by Node's `ws`
  ws.addEventListener("error", onError)

  const run = <_, E, R>(
    handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
    opts?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> =>
    Effect.scoped(
      Effect.gen(function*() {
        if (consumed) return yield* new Socket.SocketCloseError({ reason: "Close", code: 1000 })
        consumed = true
        const fibers = yield* FiberSet.make<unknown, E | Socket.SocketError>()
        const runFork = yield* FiberSet.runtime(fibers)<R>()
        const done = fibers.deferred
        const push = (bytes: Uint8Array) => {
          const result = handler(bytes)
          if (Effect.isEffect(result)) runFork(result)
        }
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            deliver = undefined
            onEnded = undefined
          })
        )
        const early = queued
        queued = []
        for (const bytes of early) push(bytes)
        deliver = push
        onEnded = () => Deferred.unsafeDone(done, ended!)
        if (ended !== undefined) Deferred.unsafeDone(done, ended)
        if (opts?.onOpen) yield* opts.onOpen
        return yield* FiberSet.join(fibers)
      }).pipe(Effect.ensuring(Effect.sync(() => close())))
    )

  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      if (Socket.isCloseEvent(chunk)) {
        close(chunk.code, chunk.reason ?? "")
        return Effect.void
      }
      if (ws.readyState !== OPEN) {
        return Effect.fail(
          new Socket.SocketGenericError({ reason: "Write", cause: new Error("the WebSocket is closed") })
        )
      }
      try {
        ws.send(chunk)
      } catch (cause) {
        return Effect.fail(new Socket.SocketGenericError({ reason: "Write", cause }))
      }
      if (ws.bufferedAmount <= maxBuffered) return Effect.void
      // backpressure: wait for the peer to take what is buffered (polled: browsers have no drain event)
      return Effect.sleep(DRAIN_POLL_MILLIS).pipe(
        Effect.repeat({ while: () => ws.readyState === OPEN && ws.bufferedAmount > maxBuffered / 2 })
      )
    })

  const writer: Effect.Effect<typeof write, never, Scope.Scope> = Effect.acquireRelease(
    Effect.succeed(write),
    () => Effect.sync(() => close())
  )

  const socket = Socket.Socket.of({
    [Socket.TypeId]: Socket.TypeId,
    run,
    runRaw: run as Socket.Socket["runRaw"],
    writer
  })
  const pausable = ws as unknown as Pausable
  return StreamCapabilities.attach(socket, {
    pause: () => pausable.pause?.(),
    resume: () => pausable.resume?.(),
    writableAfterEnd: false,
    writePerFrame: true
  })
}

/** What an error event says, where the implementation says anything (Node's `ws` does; browsers do not). */
const messageOf = (event: Event): string | undefined => {
  const e = event as { readonly message?: unknown; readonly error?: unknown }
  if (typeof e.message === "string" && e.message !== "") return e.message
  if (e.error instanceof Error) return e.error.message
  return undefined
}

/**
 * A WebSocket could not be opened: the `SocketGenericError` (reason `"Open"` or `"OpenTimeout"`)
 * that {@link connect} fails with, naming the URL (without its query, which may hold a token) and
 * what went wrong as far as the platform tells (`Unexpected server response: 403` in Node; browsers
 * say nothing more than that it failed).
 *
 * @since 0.1.0 @category errors
 */
export class ConnectError extends Socket.SocketGenericError {
  /** The URL, without its query and fragment. */
  readonly url: string
  /** What went wrong. */
  readonly why: string
  constructor(options: {
    readonly reason: "Open" | "OpenTimeout"
    readonly url: string
    readonly why: string
    readonly cause?: unknown
  }) {
    super({ reason: options.reason, cause: options.cause })
    this.url = options.url
    this.why = options.why
  }
  override get message(): string {
    return `cannot connect to ${this.url}: ${this.why}`
  }
}
Object.defineProperty(ConnectError.prototype, "name", { value: "ConnectError", writable: true, configurable: true })

/**
 * `url` without its query and fragment, for messages and logs (a token may ride in the query).
 *
 * @since 0.1.0 @category utils
 */
export const redactUrl = (url: string): string => {
  const cut = url.search(/[?#]/)
  return cut === -1 ? url : url.slice(0, cut)
}

/**
 * Options of {@link connect}.
 *
 * @since 0.1.0 @category models
 */
export interface ConnectOptions extends SocketOptions {
  /** Subprotocols to offer (`Sec-WebSocket-Protocol`). */
  readonly protocols?: string | ReadonlyArray<string> | undefined
  /** How long opening may take (TCP, TLS and the HTTP upgrade); default 3 seconds, as over TCP. */
  readonly openTimeout?: Duration.DurationInput | undefined
}

/**
 * Opens a WebSocket to `url` (`ws://` or `wss://`) with the platform's `Socket.WebSocketConstructor`
 * and returns it as a `Socket` once it is open ({@link fromWebSocket}). A refused connection, a
 * refused upgrade (HTTP 403/404…) or the open timeout fail here with {@link ConnectError}. The
 * WebSocket is closed when the scope closes.
 *
 * @since 0.1.0 @category constructors
 */
export const connect = (
  url: string,
  options: ConnectOptions = {}
): Effect.Effect<Socket.Socket, Socket.SocketError, Socket.WebSocketConstructor | Scope.Scope> =>
  Effect.gen(function*() {
    const construct = yield* Socket.WebSocketConstructor
    const shown = redactUrl(url)
    const timeout = Duration.decode(options.openTimeout ?? Duration.seconds(3))
    const protocols = options.protocols === undefined
      ? undefined
      : typeof options.protocols === "string"
      ? options.protocols
      : [...options.protocols]
    const ws = yield* Effect.acquireRelease(
      Effect.try({
        try: () => construct(url, protocols),
        catch: (cause) =>
          new ConnectError({
            reason: "Open",
            url: shown,
            why: cause instanceof Error ? cause.message : String(cause),
            cause
          })
      }),
      (ws) =>
        Effect.sync(() => {
          if (ws.readyState < CLOSING) ws.close()
        })
    )
    // listening before it opens: nothing the server sends at once is missed
    const socket = fromWebSocket(ws, options)
    if (ws.readyState !== OPEN) {
      yield* Effect.async<void, ConnectError>((resume) => {
        const cleanup = () => {
          ws.removeEventListener("open", onOpen)
          ws.removeEventListener("error", onError)
          ws.removeEventListener("close", onClose)
        }
        const onOpen = () => {
          cleanup()
          resume(Effect.void)
        }
        const onError = (event: Event) => {
          cleanup()
          resume(
            Effect.fail(
              new ConnectError({
                reason: "Open",
                url: shown,
                why: messageOf(event) ?? "connection failed",
                cause: event
              })
            )
          )
        }
        const onClose = (event: CloseEvent) => {
          cleanup()
          resume(
            Effect.fail(
              new ConnectError({ reason: "Open", url: shown, why: `closed with code ${event.code}`, cause: event })
            )
          )
        }
        ws.addEventListener("open", onOpen)
        ws.addEventListener("error", onError)
        ws.addEventListener("close", onClose)
        return Effect.sync(cleanup)
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new ConnectError({ reason: "OpenTimeout", url: shown, why: `not open after ${Duration.format(timeout)}` })
        })
      )
    }
    return socket
  })
