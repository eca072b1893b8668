/**
 * A hand-driven RPyC peer over a raw TCP socket, for tests that must see (or forge) exact frames:
 * it writes whatever bytes it is told to and parses what it receives with the real
 * `Channel.FrameDecoder`, without any protocol logic of its own.
 *
 * - `connectRaw(port)`: a raw client socket (scoped: destroyed when the scope closes).
 * - `rawServer()`: a listener on 127.0.0.1:0 whose accepted sockets are raw peers.
 * - `rawClient(port)`: a raw client speaking in decoded envelopes (forged requests out, replies in).
 */
import { assert } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as Channel from "../../src/internal/wire/Channel.js"
import * as Message from "../../src/internal/wire/Message.js"

/** One complete frame carrying `(msg, seq, args)` in the given dialect. */
export const frame = (version: Message.WireVersion, msg: Message.MsgType, seq: number, args: unknown): Buffer =>
  Buffer.from(Channel.encodeFrame(Message.encodePayload(version, msg, seq, args), { compress: false }))

/** A request frame: `args` is the already-boxed argument tuple, e.g. `[1, []]` for `(1, ())`. */
export const requestFrame = (version: Message.WireVersion, seq: number, handler: number, boxedArgs: unknown): Buffer =>
  frame(version, Message.MsgType.REQUEST, seq, [handler, boxedArgs])

/** A raw frame around arbitrary payload bytes (header + payload + trailer), never compressed. */
export const rawFrame = (payload: Uint8Array, flag = 0): Buffer => {
  const out = Buffer.alloc(5 + payload.length + 1)
  out.writeUInt32BE(payload.length, 0)
  out[4] = flag
  out.set(payload, 5)
  out[5 + payload.length] = 0x0a
  return out
}

export interface RawPeer {
  readonly socket: Net.Socket
  /** Writes bytes (resolves once handed to the kernel). */
  readonly write: (bytes: Uint8Array) => Effect.Effect<void>
  /** Sends FIN (half-close). */
  readonly end: Effect.Effect<void>
  /** Next whole payload received, or `None` once the peer closed the stream. */
  readonly nextPayload: Effect.Effect<Option.Option<Uint8Array>>
  /** Every payload received so far, in order. */
  readonly received: ReadonlyArray<Uint8Array>
  /** Completes when the socket emitted 'close'. */
  readonly closed: Effect.Effect<void>
  readonly isClosed: () => boolean
  /** Whether the other side sent FIN ('end'). */
  readonly sawEnd: () => boolean
  /** A frame-level parse error of what the other side sent, if any. */
  readonly decodeError: () => unknown
}

const wrap = (socket: Net.Socket): Effect.Effect<RawPeer> =>
  Effect.gen(function*() {
    const payloads = yield* Queue.unbounded<Uint8Array | null>()
    const closedD = yield* Deferred.make<void>()
    const received: Array<Uint8Array> = []
    const decoder = new Channel.FrameDecoder({ maxFrameSize: 1 << 30 })
    let closed = false
    let ended = false
    let decodeError: unknown = undefined
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const p of decoder.push(chunk)) {
          const copy = Uint8Array.from(p)
          received.push(copy)
          Queue.unsafeOffer(payloads, copy)
        }
      } catch (e) {
        decodeError = e
      }
    })
    socket.on("end", () => {
      ended = true
    })
    socket.on("error", () => {}) // ECONNRESET etc.: 'close' follows
    socket.on("close", () => {
      closed = true
      Queue.unsafeOffer(payloads, null)
      Deferred.unsafeDone(closedD, Effect.void)
    })
    const nextPayload: Effect.Effect<Option.Option<Uint8Array>> = Effect.flatMap(Queue.take(payloads), (p) =>
      p === null
        ? Effect.as(Queue.offer(payloads, null), Option.none()) // keep the end marker for later takes
        : Effect.succeed(Option.some(p)))
    return {
      socket,
      write: (bytes) =>
        Effect.async<void>((resume) => {
          if (socket.destroyed || socket.writableEnded) return resume(Effect.void)
          socket.write(bytes, () => resume(Effect.void))
        }),
      end: Effect.async<void>((resume) => {
        if (socket.writableEnded) return resume(Effect.void)
        socket.end(() => resume(Effect.void))
      }),
      nextPayload,
      received,
      closed: Deferred.await(closedD),
      isClosed: () => closed,
      sawEnd: () => ended,
      decodeError: () => decodeError
    }
  })

/** A raw TCP client connected to `127.0.0.1:port`, destroyed when the scope closes. */
export const connectRaw = (port: number): Effect.Effect<RawPeer, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Net.Socket, Error>((resume) => {
      const socket = Net.createConnection({ host: "127.0.0.1", port })
      const onError = (e: Error) => resume(Effect.fail(e))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        resume(Effect.succeed(socket))
      })
    }),
    (socket) => Effect.sync(() => socket.destroy())
  ).pipe(Effect.flatMap(wrap))

export interface RawServer {
  readonly port: number
  /** The next accepted connection. */
  readonly accept: Effect.Effect<RawPeer>
}

/** A TCP listener on 127.0.0.1:0 handing out raw peers; closed (with its sockets) with the scope. */
export const rawServer = (): Effect.Effect<RawServer, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const accepted = yield* Queue.unbounded<Net.Socket>()
    const sockets = new Set<Net.Socket>()
    const server = yield* Effect.acquireRelease(
      Effect.async<Net.Server, Error>((resume) => {
        const server = Net.createServer((socket) => {
          sockets.add(socket)
          Queue.unsafeOffer(accepted, socket)
        })
        server.once("error", (e) => resume(Effect.fail(e)))
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          for (const s of sockets) s.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    const port = (server.address() as Net.AddressInfo).port
    return { port, accept: Effect.flatMap(Queue.take(accepted), wrap) }
  })

/** Decodes a payload in the dialect given (throws on malformed input). */
export const decode = (version: Message.WireVersion, payload: Uint8Array): Message.Envelope =>
  Message.decodePayload(version, payload)

// ---------------------------------------------------------------------------------------------
// a raw client in envelopes

export interface RawClient {
  /** Sends a request with an already-boxed argument tuple; returns its seq. */
  readonly request: (handler: number, boxedArgs: unknown) => Effect.Effect<number>
  /** The next decoded frame from the server (dies if the server closes the stream first). */
  readonly next: Effect.Effect<Message.Envelope>
  /** Sends a request and waits for the answer carrying its seq (replies to others are skipped). */
  readonly call: (handler: number, boxedArgs: unknown) => Effect.Effect<Message.Envelope>
  readonly isClosed: () => boolean
}

/** A raw client (`connectRaw`) to 127.0.0.1:`port` that writes forged requests and decodes answers. */
export const rawClient = (
  port: number,
  version: Message.WireVersion = 5
): Effect.Effect<RawClient, Error, Scope.Scope> =>
  Effect.map(connectRaw(port), (peer) => {
    let seq = 0
    const request = (handler: number, boxedArgs: unknown) =>
      Effect.suspend(() => {
        const mySeq = seq++
        return Effect.as(peer.write(requestFrame(version, mySeq, handler, boxedArgs)), mySeq)
      })
    const next = peer.nextPayload.pipe(
      Effect.timeout("10 seconds"),
      Effect.orDie,
      Effect.flatMap(Option.match({
        onNone: () => Effect.dieMessage("the server closed the stream"),
        onSome: (payload) => Effect.sync(() => decode(version, payload))
      }))
    )
    const call = (handler: number, boxedArgs: unknown) =>
      Effect.gen(function*() {
        const mySeq = yield* request(handler, boxedArgs)
        while (true) {
          const env = yield* next
          if (env.msg !== Message.MsgType.REQUEST && env.seq === mySeq) return env
        }
      })
    return { request, next, call, isClosed: peer.isClosed }
  })

/** The exception class `(module, name)` of an EXCEPTION envelope (fails the test otherwise). */
export const exceptionClass = (env: Message.Envelope): readonly [string, string] => {
  assert.strictEqual(
    env.msg,
    Message.MsgType.EXCEPTION,
    `expected an exception reply, got ${JSON.stringify(env.args, replacer)}`
  )
  const vinegar = env.args as [[string, string], unknown, unknown, string]
  return vinegar[0]
}

/** JSON.stringify replacer for bigints and byte arrays. */
export const replacer = (_k: string, v: unknown) =>
  typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v
