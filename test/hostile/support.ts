/**
 * Fixtures of the hostile suite (test/hostile): the TS server child (fixtures/server.ts), what
 * /proc says about it, raw sockets over TCP or a Unix socket, and frames built by hand.
 * Children, polling and peers are test/support's (Child.ts, Eventually.ts, Peers.ts, RawPeer.ts).
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Brine from "../../src/internal/wire/Brine.js"
import * as Channel from "../../src/internal/wire/Channel.js"
import * as Message from "../../src/internal/wire/Message.js"
import { type Child, ROOT, spawn, TSX } from "../support/Child.js"

export const MiB = 1024 * 1024

/** A file of test/hostile/fixtures. */
export const fixture = (name: string): string => Path.join(ROOT, "test/hostile/fixtures", name)

export interface ServerChild {
  readonly child: Child
  readonly pid: number
  readonly port: number
}

/** The TS server fixture as a child (killed with the scope); `args` as fixtures/server.ts takes them. */
export const serverChild = (...args: ReadonlyArray<string>): Effect.Effect<ServerChild, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* spawn(process.execPath, ["--expose-gc", ...TSX, fixture("server.ts"), ...args], {
      ready: { stream: "stdout", pattern: /^(?:PORT (\d+)|SOCKET .*)$/ }
    })
    return { child, pid: child.pid!, port: Number(child.ready![1] ?? 0) }
  })

/** A field of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`). */
export const procStatus = (pid: number, field: "VmRSS" | "VmHWM"): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return m === null ? 0 : Number(m[1]) * 1024
}

/** Resets the peak RSS (VmHWM) of a process to its current RSS (Linux `clear_refs` 5). */
export const resetPeak = (pid: number): void => Fs.writeFileSync(`/proc/${pid}/clear_refs`, "5")

/** How many file descriptors a process has open. */
export const fdCount = (pid: number): number => Fs.readdirSync(`/proc/${pid}/fd`).length

/** A raw socket to a TCP port or a Unix socket path, destroyed with the scope. */
export const rawSocket = (
  target: number | string,
  options: { readonly allowHalfOpen?: boolean } = {}
): Effect.Effect<Net.Socket, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Net.Socket, Error>((resume) => {
      const socket = typeof target === "number"
        ? Net.createConnection({ host: "127.0.0.1", port: target, allowHalfOpen: options.allowHalfOpen ?? false })
        : Net.createConnection({ path: target, allowHalfOpen: options.allowHalfOpen ?? false })
      const onError = (e: Error) => resume(Effect.fail(e))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        socket.on("error", () => {})
        resume(Effect.succeed(socket))
      })
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

/** Writes and waits until the bytes are handed to the kernel (or the socket is gone). */
export const writeAll = (socket: Net.Socket, bytes: Uint8Array): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (socket.destroyed || socket.writableEnded) return resume(Effect.void)
    socket.write(bytes, () => resume(Effect.void))
  })

/** Completes when the socket is closed. */
export const closed = (socket: Net.Socket): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (socket.destroyed && socket.closed) return resume(Effect.void)
    socket.once("close", () => resume(Effect.void))
  })

/** Deterministic incompressible bytes (xorshift32), made fast. */
export const noise = (n: number, seed = 0x9e3779b9): Buffer => {
  const out = Buffer.allocUnsafe(n + 3 - ((n + 3) % 4))
  let x = seed >>> 0 || 1
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out.writeUInt32LE(x >>> 0, i)
  }
  return out.subarray(0, n)
}

/**
 * A whole uncompressed v5 frame for REQUEST `seq`, handler `handler`, whose boxed argument tuple's
 * brine bytes are `boxedArgs` (so that huge arguments need not exist as JS values).
 */
export const requestFrameOf = (seq: number, handler: number, boxedArgs: Uint8Array): Buffer => {
  const head = new Brine.Writer()
  head.byte(0x12) // (msg, seq, args)
  Brine.write(head, 1)
  Brine.write(head, seq)
  head.byte(0x11) // args = (handler, boxed)
  Brine.write(head, handler)
  const prefix = head.result()
  const length = prefix.length + boxedArgs.length
  const frame = Buffer.allocUnsafe(5 + length + 1)
  frame.writeUInt32BE(length, 0)
  frame[4] = 0
  frame.set(prefix, 5)
  frame.set(boxedArgs, 5 + prefix.length)
  frame[5 + length] = 0x0a
  return frame
}

/** Brine of a bytes value of any length (the long form header only; the body follows). */
export const bytesHeader = (n: number): Uint8Array => {
  const w = new Brine.Writer()
  w.byte(Brine.Tag.BYTES_L4)
  w.u32(n)
  return w.result()
}

/** Whole payloads received on a raw socket (TCP, Unix, TLS, a pipe): `next` is `None` once it ended. */
export interface Frames {
  readonly next: Effect.Effect<Option.Option<Uint8Array>>
  readonly received: ReadonlyArray<Uint8Array>
}

/** Reads the frames arriving on `stream` with the real `Channel.FrameDecoder`. */
export const framesOf = (stream: NodeJS.ReadableStream): Effect.Effect<Frames> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Uint8Array | null>()
    const decoder = new Channel.FrameDecoder({ maxFrameSize: 1 << 30 })
    const received: Array<Uint8Array> = []
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      Queue.unsafeOffer(queue, null)
    }
    stream.on("data", (chunk: Buffer) => {
      try {
        for (const p of decoder.push(chunk)) {
          const copy = Uint8Array.from(p)
          received.push(copy)
          Queue.unsafeOffer(queue, copy)
        }
      } catch {
        end()
      }
    })
    stream.on("end", end)
    stream.on("close", end)
    stream.on("error", end)
    const next: Effect.Effect<Option.Option<Uint8Array>> = Effect.flatMap(Queue.take(queue), (p) =>
      p === null ? Effect.as(Queue.offer(queue, null), Option.none()) : Effect.succeed(Option.some(p)))
    return { next, received }
  })

/** The next frame decoded (v5), within 10 s; dies if the stream ends first. */
export const nextEnvelope = (frames: Frames, what = "a frame"): Effect.Effect<Message.Envelope> =>
  frames.next.pipe(
    Effect.timeout("10 seconds"),
    Effect.orDie,
    Effect.flatMap(Option.match({
      onNone: () => Effect.dieMessage(`the stream ended before ${what}`),
      onSome: (p) => Effect.sync(() => Message.decodePayload(5, p))
    }))
  )

/** Uncaught exceptions and unhandled rejections while the scope is open. */
export const watchProcess = Effect.acquireRelease(
  Effect.sync(() => {
    const seen: Array<string> = []
    const onException = (e: unknown) => seen.push(`uncaughtException: ${(e as Error)?.stack ?? String(e)}`)
    const onRejection = (e: unknown) => seen.push(`unhandledRejection: ${(e as Error)?.stack ?? String(e)}`)
    process.on("uncaughtException", onException)
    process.on("unhandledRejection", onRejection)
    return { seen, onException, onRejection }
  }),
  ({ onException, onRejection }) =>
    Effect.sync(() => {
      process.off("uncaughtException", onException)
      process.off("unhandledRejection", onRejection)
    })
)
