/**
 * A scoped UDP socket on top of `node:dgram` (@effect/platform has no UDP support).
 *
 * Incoming datagrams go into a bounded *sliding* mailbox: UDP has no backpressure, so when a consumer
 * falls behind the oldest datagrams are dropped rather than letting memory grow without limit.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Mailbox from "effect/Mailbox"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as Dgram from "node:dgram"

/**
 * A UDP socket operation failed: binding the socket, sending a datagram, or the socket reported an
 * error while receiving.
 *
 * @since 0.1.0
 * @category errors
 */
export class UdpError extends Data.TaggedError("UdpError")<{
  readonly reason: "Bind" | "Send" | "Receive" | "Option"
  readonly cause: unknown
}> {
  override get message(): string {
    return `UDP ${this.reason} failed: ${String(this.cause)}`
  }
}

/**
 * One received datagram with the address it came from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Datagram {
  readonly data: Uint8Array
  readonly address: string
  readonly port: number
}

/**
 * The local address a socket is bound to.
 *
 * @since 0.1.0
 * @category models
 */
export interface BoundAddress {
  readonly address: string
  readonly port: number
  readonly family: "IPv4" | "IPv6"
}

/**
 * A bound UDP socket. It is closed when the scope it was made in closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface UdpSocket {
  /** The address the socket is bound to (the real port when port 0 was asked for). */
  readonly address: BoundAddress
  /** Sends one datagram; completes when the kernel has taken it. */
  readonly send: (data: Uint8Array, port: number, address: string) => Effect.Effect<void, UdpError>
  /** Received datagrams. Meant for a single consumer; ends when the socket closes. */
  readonly messages: Stream.Stream<Datagram, UdpError>
  /** Sets `SO_BROADCAST` (needed to send to a broadcast address such as 255.255.255.255). */
  readonly setBroadcast: (flag: boolean) => Effect.Effect<void, UdpError>
}

/**
 * Options for {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Address family; default "udp4". */
  readonly type?: "udp4" | "udp6" | undefined
  /** Local port; default 0 (an ephemeral port). */
  readonly port?: number | undefined
  /** Local address; default: all interfaces of the family (Node's default for `bind`). */
  readonly address?: string | undefined
  /** `SO_REUSEADDR`; default false. */
  readonly reuseAddr?: boolean | undefined
  /** Datagrams kept while nobody reads; older ones are dropped beyond this. Default 1024. */
  readonly capacity?: number | undefined
}

/**
 * Binds a UDP socket; it is closed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<UdpSocket, UdpError, Scope.Scope> =>
  Effect.gen(function*() {
    const mailbox = yield* Mailbox.make<Datagram, UdpError>({ capacity: options.capacity ?? 1024, strategy: "sliding" })
    const socket = yield* Effect.acquireRelease(
      Effect.async<Dgram.Socket, UdpError>((resume) => {
        const socket = Dgram.createSocket({ type: options.type ?? "udp4", reuseAddr: options.reuseAddr ?? false })
        const onError = (cause: Error) => {
          socket.close()
          resume(Effect.fail(new UdpError({ reason: "Bind", cause })))
        }
        socket.once("error", onError)
        socket.bind(options.port ?? 0, options.address, () => {
          socket.off("error", onError)
          resume(Effect.succeed(socket))
        })
      }),
      (socket) =>
        Effect.async<void>((resume) => {
          try {
            socket.close(() => resume(Effect.void))
          } catch {
            // already closed (ERR_SOCKET_DGRAM_NOT_RUNNING): nothing left to release
            resume(Effect.void)
          }
        })
    )
    socket.on("message", (msg, rinfo) => {
      mailbox.unsafeOffer({
        data: new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength),
        address: rinfo.address,
        port: rinfo.port
      })
    })
    // unsafeDone takes an Exit, not an Effect (Effect note E6)
    socket.on("error", (cause) => {
      mailbox.unsafeDone(Exit.fail(new UdpError({ reason: "Receive", cause })))
    })
    socket.on("close", () => {
      mailbox.unsafeDone(Exit.void)
    })
    const info = socket.address()
    return {
      address: { address: info.address, port: info.port, family: info.family === "IPv6" ? "IPv6" : "IPv4" },
      send: (data, port, address) =>
        Effect.async<void, UdpError>((resume) => {
          try {
            socket.send(data, port, address, (cause) => {
              resume(cause ? Effect.fail(new UdpError({ reason: "Send", cause })) : Effect.void)
            })
          } catch (cause) {
            // invalid ports/addresses throw synchronously instead of calling back
            resume(Effect.fail(new UdpError({ reason: "Send", cause })))
          }
        }),
      messages: Mailbox.toStream(mailbox),
      setBroadcast: (flag) =>
        Effect.try({
          try: () => socket.setBroadcast(flag),
          catch: (cause) => new UdpError({ reason: "Option", cause })
        })
    } satisfies UdpSocket
  })

/**
 * A UDP socket as a service, for programs that share one socket through a layer.
 *
 * @since 0.1.0
 * @category tags
 */
export class Udp extends Context.Tag("effect-rpyc/Udp/Udp")<Udp, UdpSocket>() {}

/**
 * A layer that binds a socket for its lifetime.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Udp, UdpError> => Layer.scoped(Udp, make(options))
