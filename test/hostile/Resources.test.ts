/**
 * Resource limits of a TS server under hostile clients (issue #12 item 4), as assertions with the
 * issue's acceptance bounds. The server runs in a child (test/hostile/fixtures/server.ts) so that
 * its memory (/proc/<pid>/status: VmRSS, and VmHWM, the peak, reset before each attack) and its
 * file descriptors (/proc/<pid>/fd) are its own; a legitimate client keeps calling `add(1, 2)`
 * on another connection throughout, and none of its round trips may take a second.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Net from "node:net"
import * as Zlib from "node:zlib"
import { startProbe } from "../../fuzz/Probe.js"
import * as Brine from "../../src/internal/wire/Brine.js"
import * as Message from "../../src/internal/wire/Message.js"
import { TIMEOUT } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { connect, remote } from "../support/Peers.js"
import { connectRaw, rawFrame, type RawPeer, requestFrame } from "../support/RawPeer.js"
import {
  bytesHeader,
  fdCount,
  MiB,
  noise,
  procStatus,
  rawSocket,
  requestFrameOf,
  resetPeak,
  serverChild,
  writeAll
} from "./support.js"

const { Handler, Label, MsgType } = Message

/** The bounds. */
const RSS_GROWTH_LIMIT = 300 * MiB
const PROBE_BOUND_MILLIS = 1000

const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`

/** The brine of the PING box `(1, (data,))` for a bytes `data` of `n` bytes, without the body. */
const pingBoxHead = (n: number) => Buffer.concat([Uint8Array.of(0x11, Label.VALUE + 0x50, 0x10), bytesHeader(n)])

/** The server's root id_pack, asked for on a raw connection. */
const rootOf = (peer: RawPeer) =>
  Effect.gen(function*() {
    yield* peer.write(requestFrame(5, 0, Handler.GETROOT, [Label.VALUE, []]))
    const payload = yield* peer.nextPayload.pipe(Effect.timeout("10 seconds"), Effect.orDie)
    const env = Message.decodePayload(5, Option.getOrThrow(payload))
    const box = env.args as [number, Message.IdPack]
    assert.strictEqual(box[0], Label.REMOTE_REF)
    return box[1]
  })

/** What became of an attacking request: the connection closed, or the (first) answer to `seq`. */
const outcomeOf = (peer: RawPeer, seq: number) =>
  Effect.gen(function*() {
    while (true) {
      const next = yield* peer.nextPayload
      if (Option.isNone(next)) return "closed" as const
      const env = Message.decodePayload(5, next.value)
      if (env.msg !== MsgType.REQUEST && env.seq === seq) return env
    }
  })

/** Deflates `total` bytes of zeros (streamed: the zeros never exist at once). */
const zlibBomb = (total: number) =>
  Effect.async<Buffer>((resume) => {
    const deflate = Zlib.createDeflate({ level: 9 })
    const parts: Array<Buffer> = []
    deflate.on("data", (b: Buffer) => parts.push(b))
    deflate.on("end", () => resume(Effect.succeed(Buffer.concat(parts))))
    const zeros = Buffer.alloc(MiB)
    let written = 0
    const pump = () => {
      while (written < total) {
        written += zeros.length
        if (!deflate.write(zeros)) return deflate.once("drain", pump)
      }
      deflate.end()
    }
    pump()
  })

/** Waits for 'drain' up to `millis`; false if the socket stays blocked that long. */
const drained = (socket: Net.Socket, millis: number) =>
  Effect.async<boolean>((resume) => {
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.off("drain", onDrain)
      socket.off("close", onDrain)
      resume(Effect.succeed(ok))
    }
    const onDrain = () => done(true)
    const timer = setTimeout(() => done(false), millis)
    socket.once("drain", onDrain)
    socket.once("close", onDrain)
  })

describe.sequential("resources of a TS server under hostile clients", () => {
  it.scopedLive(
    "(a) 1 MiB PINGs from a client that never reads: RSS grows < 300 MiB, others served < 1 s",
    () =>
      Effect.gen(function*() {
        const srv = yield* serverChild()
        const control = yield* connect(srv.port)
        assert.strictEqual(yield* remote(control.root.add(1, 2)), 3)
        const probe = yield* startProbe({ port: srv.port })
        const data = noise(MiB)
        const frame = requestFrameOf(0, Handler.PING, Buffer.concat([pingBoxHead(MiB), data]))
        const attacker = yield* rawSocket(srv.port)
        attacker.pause() // never reads: the replies pile up on the server's side
        const base = procStatus(srv.pid, "VmRSS")
        resetPeak(srv.pid)
        const t0 = Date.now()
        let sent = 0
        let blocked = false
        let growth = 0
        while (sent < 2000) {
          const ok = attacker.write(frame)
          sent++
          if (!ok && !(yield* drained(attacker, 2000))) {
            blocked = true // the server stopped reading from us: backpressure
            break
          }
          if (sent % 10 === 0) {
            growth = procStatus(srv.pid, "VmHWM") - base
            if (growth > RSS_GROWTH_LIMIT) break // fail fast, before the machine runs out of memory
          }
        }
        // the server still answers, and then its peak is read
        assert.strictEqual(yield* remote(control.root.add(2, 2)), 4)
        growth = procStatus(srv.pid, "VmHWM") - base
        console.log(
          `(a) ${sent} frames of 1 MiB in ${Date.now() - t0} ms, ${
            blocked ? "then the writes blocked" : "never blocked"
          }; ` +
            `server RSS ${mib(base)} + ${mib(growth)} at peak; worst other round trip ${probe.worstMillis} ms`
        )
        assert.isBelow(growth, RSS_GROWTH_LIMIT, `RSS grew by ${mib(growth)} after ${sent} unread 1 MiB PINGs`)
        assert.strictEqual(probe.failures, 0, probe.firstFailure)
        assert.isBelow(probe.worstMillis, PROBE_BOUND_MILLIS)
      }),
    TIMEOUT
  )

  it.scopedLive(
    "(b) one uncompressed 64 MiB PING is received and answered (< 20 s), others served < 1 s",
    () =>
      Effect.gen(function*() {
        const srv = yield* serverChild("--max-frame-size", String(128 * MiB))
        const probe = yield* startProbe({ port: srv.port })
        const size = 64 * MiB
        const data = noise(size, 7)
        const frame = requestFrameOf(1, Handler.PING, Buffer.concat([pingBoxHead(size), data]))
        const peer = yield* connectRaw(srv.port)
        const t0 = Date.now()
        yield* peer.write(frame)
        const answer = yield* outcomeOf(peer, 1).pipe(Effect.timeout("20 seconds"), Effect.either)
        const took = Date.now() - t0
        console.log(`(b) 64 MiB PING answered in ${took} ms; worst other round trip ${probe.worstMillis} ms`)
        assert.isTrue(answer._tag === "Right", `no answer within 20 s`)
        const env = (answer as { right: Message.Envelope | "closed" }).right
        assert.notStrictEqual(env, "closed", "the server closed the connection instead of answering")
        const box = (env as Message.Envelope).args as [number, Uint8Array]
        assert.strictEqual((env as Message.Envelope).msg, MsgType.REPLY)
        assert.isTrue(Buffer.from(box[1]).equals(data), "the echo differs from what was sent")
        assert.strictEqual(probe.failures, 0, probe.firstFailure)
        assert.isBelow(probe.worstMillis, PROBE_BOUND_MILLIS)
      }),
    TIMEOUT
  )

  it.scopedLive(
    "(c) a zlib bomb and an int of 30 million digits are refused with the connection closed",
    () =>
      Effect.gen(function*() {
        const srv = yield* serverChild()
        const probe = yield* startProbe({ port: srv.port })
        // 1 GiB of zeros in about 1 MiB
        const bomb = yield* zlibBomb(1024 * MiB)
        const bomber = yield* connectRaw(srv.port)
        let t0 = Date.now()
        yield* bomber.write(rawFrame(bomb, 1))
        const bombOutcome = yield* outcomeOf(bomber, 0).pipe(Effect.timeout("20 seconds"), Effect.either)
        console.log(`(c) zlib bomb (${bomb.length} bytes → 1 GiB): ${
          JSON.stringify(
            bombOutcome._tag === "Right"
              ? bombOutcome.right === "closed" ? "closed" : "answered"
              : "no outcome in 20 s"
          )
        } after ${Date.now() - t0} ms`)
        assert.isTrue(bombOutcome._tag === "Right" && bombOutcome.right === "closed", "the zlib bomb was not refused")
        assert.strictEqual(bomber.received.length, 0)

        const digits = 30_000_000
        const w = new Brine.Writer(16)
        w.bytes(Uint8Array.of(0x11, Label.VALUE + 0x50, 0x10, Brine.Tag.INT_L4))
        w.u32(digits)
        const frame = requestFrameOf(0, Handler.PING, Buffer.concat([w.result(), Buffer.alloc(digits, 0x39)]))
        const inter = yield* connectRaw(srv.port)
        t0 = Date.now()
        yield* inter.write(frame)
        const intOutcome = yield* outcomeOf(inter, 0).pipe(Effect.timeout("20 seconds"), Effect.either)
        console.log(
          `(c) 30M-digit int: ${
            intOutcome._tag === "Right" ? String(intOutcome.right === "closed" ? "closed" : "answered") : "no outcome"
          } after ${Date.now() - t0} ms; worst other round trip ${probe.worstMillis} ms`
        )
        assert.isTrue(intOutcome._tag === "Right" && intOutcome.right === "closed", "the huge int was not refused")
        assert.strictEqual(probe.failures, 0, probe.firstFailure)
        assert.isBelow(probe.worstMillis, PROBE_BOUND_MILLIS)
      }),
    TIMEOUT
  )

  for (const kind of ["LOCAL_REF", "REMOTE_REF"] as const) {
    it.scopedLive(
      `(d) 1,000,000 ${kind} boxes in one request: refused or failed, RSS < 300 MiB, others served < 1 s`,
      () =>
        Effect.gen(function*() {
          const srv = yield* serverChild()
          const probe = yield* startProbe({ port: srv.port })
          const peer = yield* connectRaw(srv.port)
          const root = yield* rootOf(peer)
          const n = 1_000_000
          // CALLATTR(root, "echo", ((ref, ref, …),), ()): one argument, a tuple of a million references
          const w = new Brine.Writer(64 * MiB)
          w.bytes(Uint8Array.of(0x11, Label.TUPLE + 0x50, 0x13))
          Brine.write(w, [Label.LOCAL_REF, root])
          Brine.write(w, [Label.VALUE, "echo"])
          w.bytes(Uint8Array.of(0x11, Label.TUPLE + 0x50, 0x10, 0x11, Label.TUPLE + 0x50, Brine.Tag.TUPLE_L4))
          w.u32(n)
          if (kind === "LOCAL_REF") {
            const one = Brine.encode([Label.LOCAL_REF, root])
            w.ensure(one.length * n)
            for (let i = 0; i < n; i++, w.pos += one.length) w.buf.set(one, w.pos)
          } else {
            for (let i = 0; i < n; i++) Brine.write(w, [Label.REMOTE_REF, ["builtins.object", 4242, 1_000_000 + i]])
          }
          Brine.write(w, [Label.VALUE, []])
          const frame = requestFrameOf(1, Handler.CALLATTR, w.result())
          const base = procStatus(srv.pid, "VmRSS")
          resetPeak(srv.pid)
          const t0 = Date.now()
          yield* peer.write(frame)
          const outcome = yield* outcomeOf(peer, 1).pipe(Effect.timeout("60 seconds"), Effect.either)
          const took = Date.now() - t0
          const growth = procStatus(srv.pid, "VmHWM") - base
          const what = outcome._tag === "Left"
            ? "no outcome in 60 s"
            : outcome.right === "closed"
            ? "connection closed"
            : outcome.right.msg === MsgType.EXCEPTION
            ? "exception reply"
            : "answered"
          console.log(
            `(d) ${frame.length} byte frame of ${n} ${kind} boxes: ${what} after ${took} ms; server RSS ${
              mib(base)
            } + ${mib(growth)} at peak; worst other round trip ${probe.worstMillis} ms`
          )
          assert.isTrue(what === "connection closed" || what === "exception reply", `the reference bomb was ${what}`)
          assert.isBelow(growth, RSS_GROWTH_LIMIT, `RSS grew by ${mib(growth)}`)
          assert.strictEqual(probe.failures, 0, probe.firstFailure)
          assert.isBelow(probe.worstMillis, PROBE_BOUND_MILLIS)
        }),
      TIMEOUT
    )
  }

  it.scopedLive(
    "(e) 2,000 connect/close cycles: file descriptors and object counts back to baseline",
    () =>
      Effect.gen(function*() {
        const srv = yield* serverChild()
        const control = yield* connect(srv.port)
        type Stats = readonly [rss: number, heap: number, connections: number, objects: number, netrefs: number]
        const stats = remote<Stats>(control.root.stats())
        const before = yield* stats
        const fds = fdCount(srv.pid)
        const t0 = Date.now()
        const getroot = requestFrame(5, 0, Handler.GETROOT, [Label.VALUE, []])
        const cycle = (i: number) =>
          Effect.scoped(
            i % 2 === 0
              ? Effect.gen(function*() {
                // a real client that takes references and leaves without giving them back
                const conn = yield* connect(srv.port)
                const numbers = yield* remote(conn.root.numbers())
                assert.isDefined(numbers)
              })
              : Effect.gen(function*() {
                // a raw one: GETROOT, half a frame, then FIN, RST or nothing more
                const socket = yield* rawSocket(srv.port)
                yield* writeAll(socket, Buffer.concat([getroot, getroot.subarray(0, (i % 7) + 1)]))
                if (i % 3 === 0) socket.end()
                else if (i % 3 === 1) socket.resetAndDestroy()
              })
          )
        yield* Effect.forEach(Array.from({ length: 2000 }, (_, i) => i), cycle, { concurrency: 8, discard: true })
        const after = yield* eventually(
          stats,
          (s) => s[2] === before[2] && s[3] === before[3] && s[4] === before[4],
          { what: "the server holds only the control connection and its objects again" }
        )
        yield* eventually(() => fdCount(srv.pid) <= fds, `the server's fds are back to ${fds}`)
        console.log(
          `(e) 2000 cycles in ${Date.now() - t0} ms; fds ${fds} → ${fdCount(srv.pid)}; connections ${before[2]} → ${
            after[2]
          }; objects ${before[3]} → ${after[3]}; heap ${mib(before[1])} → ${mib(after[1])}`
        )
      }),
    TIMEOUT
  )
})
