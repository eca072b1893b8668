/**
 * Running a client connection over a `Socket` someone else opened (RPyC's `connect_stream`), with
 * the check of the server's first frame against the dialect this side speaks. Needs nothing from
 * Node: the browser entry connects through it, and `Client` builds its TCP connections on it.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import type * as Config from "../internal/base/Config.js"
import type { ConnectionClosed } from "../internal/base/Errors.js"
import * as StreamCapabilities from "../internal/base/StreamCapabilities.js"
import type * as Connection from "../internal/engine/Engine.js"
import type * as Message from "../internal/wire/Message.js"
import * as Service from "../service/Service.js"
import * as Dialect from "./Dialect.js"

/**
 * Options shared by every way of connecting.
 *
 * @since 0.1.0 @category models
 */
export interface ConnectionOptions {
  /** The service this side exposes to the peer (default `VoidService`). */
  readonly service?: Service.ServiceSpec | undefined
  readonly config?: Config.ConfigInput | undefined
  /**
   * The envelope dialect: `5` (RPyC 5.x), `6` (RPyC 6.x) or `"auto"` (default): probe the endpoint once
   * over TCP; 5 over transports that cannot be probed.
   */
  readonly wireVersion?: Message.WireVersion | "auto" | undefined
  readonly maxFrameSize?: number | undefined
}

/**
 * The server speaks the other RPyC dialect than the one this client uses. It ends the connection's
 * transport (so it is a `Socket.SocketError`, reason `"Read"`); callers see it in the message of the
 * `ConnectionClosed` their calls fail with:
 * `the server at 127.0.0.1:18861 speaks RPyC 6 (wire v6) but this client was set to wireVersion: 5;
 * use wireVersion: "auto" or 6`.
 *
 * @since 0.1.0 @category errors
 */
export class WireVersionMismatch extends Socket.SocketGenericError {
  /** The dialect the server speaks. */
  readonly serverVersion: Message.WireVersion
  /** The dialect this client spoke. */
  readonly clientVersion: Message.WireVersion
  /** What the client was configured with. */
  readonly configured: Message.WireVersion | "auto"
  /** `host:port`, when known. */
  readonly address: string | undefined
  constructor(options: {
    readonly serverVersion: Message.WireVersion
    readonly clientVersion: Message.WireVersion
    readonly configured: Message.WireVersion | "auto"
    readonly address?: string | undefined
  }) {
    super({ reason: "Read", cause: undefined })
    this.serverVersion = options.serverVersion
    this.clientVersion = options.clientVersion
    this.configured = options.configured
    this.address = options.address
  }
  override get message(): string {
    const server = `the server${
      this.address === undefined ? "" : ` at ${this.address}`
    } speaks RPyC ${this.serverVersion} (wire v${this.serverVersion})`
    if (this.configured !== "auto") {
      return `${server} but this client was set to wireVersion: ${this.configured}; use wireVersion: "auto" or ${this.serverVersion}`
    }
    if (this.address === undefined) {
      return `${server} but this client speaks wire v${this.clientVersion} (wireVersion "auto" can only probe TCP servers); use wireVersion: ${this.serverVersion}`
    }
    return `${server}, not the wire v${this.clientVersion} an earlier probe found (restarted?); connecting again probes anew, or use wireVersion: ${this.serverVersion}`
  }
}
Object.defineProperty(WireVersionMismatch.prototype, "name", {
  value: "WireVersionMismatch",
  writable: true,
  configurable: true
})

/**
 * What a connection checks its server's first bytes against.
 *
 * @since 0.1.0 @category models
 */
export interface VersionCheck {
  readonly expected: Message.WireVersion
  readonly configured: Message.WireVersion | "auto"
  /** The TCP endpoint as `host:port`, for messages; only where `"auto"` probed it. */
  readonly address?: string | undefined
  /** Called on a mismatch: what a probe found is out of date. */
  readonly onMismatch?: (() => void) | undefined
}

/**
 * `socket`, watching the server's first frame (PROTOCOL.md §10.3): a frame of the other dialect ends
 * `run` with {@link WireVersionMismatch} instead of reaching the engine, where it could only be a
 * protocol error. (A server of the other dialect answers our first request that way: Python 5.3 with
 * a v5 CLOSE, 6.x with a v6 CLOSE, and this package's servers with an explicit version likewise.)
 */
const watchWireVersion = (socket: Socket.Socket, check: VersionCheck): Socket.Socket => {
  const mismatch = (serverVersion: Message.WireVersion) => {
    check.onMismatch?.()
    return new WireVersionMismatch({
      serverVersion,
      clientVersion: check.expected,
      configured: check.configured,
      address: check.address
    })
  }
  const run = <_, E, R>(
    handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
    options?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> =>
    Effect.suspend(() => {
      const { onChunk, takeHeld } = Dialect.holdHead(
        (bytes): Effect.Effect<_, E | WireVersionMismatch, R> | void => {
          const other = Dialect.otherDialect(bytes, check.expected)
          // a failing handler Effect ends `run` with its error
          if (other !== undefined) return Effect.fail(mismatch(other))
          return handler(bytes)
        },
        handler
      )
      const flush = Effect.suspend((): Effect.Effect<void, E, R> => {
        // fewer bytes than a frame header before the end: the engine reports the truncated frame
        const rest = takeHeld()
        if (rest === undefined) return Effect.void
        const result = handler(rest)
        return Effect.isEffect(result) ? Effect.asVoid(result) : Effect.void
      })
      return Effect.zipRight(socket.run(onChunk, options), flush)
    })
  // the same watch for a reader without a fiber
  const inner = StreamCapabilities.of(socket)?.listen
  const listen: StreamCapabilities.Listen | undefined = inner && ((onChunk, onEnd) => {
    let stop = (): void => {}
    let refused = false
    const { onChunk: watched, takeHeld } = Dialect.holdHead((bytes) => {
      const other = Dialect.otherDialect(bytes, check.expected)
      if (other === undefined) return onChunk(bytes)
      refused = true
      stop()
      onEnd(Exit.fail(mismatch(other)))
    }, onChunk)
    const started = inner((chunk) => {
      if (!refused) watched(chunk)
    }, (exit) => {
      if (refused) return
      // fewer bytes than a frame header before the end: the engine reports the truncated frame
      const rest = Exit.isSuccess(exit) ? takeHeld() : undefined
      if (rest !== undefined) onChunk(rest)
      onEnd(exit)
    })
    if (Exit.isSuccess(started)) stop = started.value
    return started
  })
  const checked: Socket.Socket = { [Socket.TypeId]: Socket.TypeId, run, runRaw: socket.runRaw, writer: socket.writer }
  // what the transport can do (backpressure, half-close, a TLS record per frame) stays with it
  return StreamCapabilities.inherit(checked, socket, listen)
}

/**
 * Runs a client connection over `socket`, checking the server's first frame against `check`.
 *
 * @since 0.1.0 @category constructors
 */
export const connectWithCheck = <Api>(
  socket: Socket.Socket,
  options: ConnectionOptions,
  check: VersionCheck
): Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  Service.makeConnection<Api>(
    watchWireVersion(socket, check),
    options.service ?? Service.VoidService,
    {
      config: options.config,
      wireVersion: check.expected,
      maxFrameSize: options.maxFrameSize,
      side: "connecting",
      peer: check.address === undefined ? undefined : { address: check.address },
      // an accepting peer that must send before hearing from us (a service whose onConnect calls
      // back) cannot tell v6 from v5 until we do, and assumes v5 after a second
      speakFirst: check.expected === 6
    }
  )

/**
 * Runs a connection over an already-made Socket (RPyC's `connect_stream`). Nothing can be probed
 * here: `wireVersion` `"auto"` (the default) means 5. A server of the other dialect closes the
 * connection with {@link WireVersionMismatch} when its first frame arrives.
 *
 * @since 0.1.0 @category constructors
 */
export const connectSocket = <Api = any>(
  socket: Socket.Socket,
  options: ConnectionOptions = {}
): Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> => {
  const configured = options.wireVersion ?? "auto"
  return connectWithCheck<Api>(socket, options, { expected: configured === "auto" ? 5 : configured, configured })
}
