/**
 * The connection engine: one RPyC connection over an @effect/platform `Socket`.
 *
 * - **Outbound**: every request gets the next seq number; the caller waits on an `Effect.async`
 *   whose resume callback sits in `pending` and is called synchronously when the reply frame is
 *   parsed. Timeouts (`syncRequestTimeout`) are expired by one sweeper fiber per process (`Sweeper`), not
 *   by an `Effect.timeout` per call (that costs ~10× on the hot path, ARCHITECTURE.md, Effect note E8).
 * - **Inbound**: the socket handler is synchronous — it frames, decodes and dispatches each message
 *   at once, so replies and nested requests (callbacks) are served while local calls wait. A
 *   request whose handler returns a Promise or an Effect completes in its own fiber/promise and
 *   replies when done; requests may therefore complete out of order, as in RPyC.
 * - **Objects**: what we send by reference is kept in an `ObjectTable` with send counts (DEL
 *   decrements); what the peer sends us becomes a cached netref that sends DEL when released.
 * - **Closing**: closing the scope (or `close()`) sends CLOSE, flushes, closes the socket, fails
 *   every pending call with `ConnectionClosed` and runs `onDisconnect`. A received CLOSE tears
 *   down at once without replying. A malformed frame closes only this connection, with a
 *   `ProtocolError` logged.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Mailbox from "effect/Mailbox"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Awaitable from "../base/Awaitable.js"
import * as Config from "../base/Config.js"
import {
  ConnectionClosed,
  keyError,
  ProtocolError,
  PythonException,
  type RemoteFailure,
  RequestTimeout,
  typeError,
  valueError
} from "../base/Errors.js"
import * as StreamCapabilities from "../base/StreamCapabilities.js"
import * as Netref from "../netref/Netref.js"
import * as RemoteOp from "../netref/RemoteOp.js"
import { idOf, idPackOf, isByRef, keyOf, ObjectTable } from "../object/LocalObjects.js"
import * as Policy from "../object/Policy.js"
import * as Pythonic from "../object/Pythonic.js"
import * as Vinegar from "../object/Vinegar.js"
import * as Brine from "../wire/Brine.js"
import * as Bytes from "../wire/Bytes.js"
import * as Channel from "../wire/Channel.js"
import * as Message from "../wire/Message.js"
import * as Pickle from "../wire/Pickle.js"
import * as Instrument from "./Instrument.js"
import * as PendingRequests from "./PendingRequests.js"
import * as SpareBuffer from "./SpareBuffer.js"
import * as Sweeper from "./Sweeper.js"

const { Handler, Label, MsgType } = Message

/** @since 0.1.0 @category type ids */
export const TypeId: unique symbol = Symbol.for("effect-rpyc/Connection")
/** @since 0.1.0 @category type ids */
export type TypeId = typeof TypeId

/**
 * A live RPyC connection.
 *
 * @since 0.1.0 @category models
 */
export interface Connection<Api = any> {
  readonly [TypeId]: TypeId
  /** `conn1`, `conn2`, … unless `config.connid` names it. */
  readonly id: string
  /** This side's protocol config (mutable: classic mode turns on full trust here). */
  readonly config: Config.ProtocolConfig
  /** The peer's root object (GETROOT once, then cached); typed when the connection has an `Api`. */
  readonly root: RemoteOp.RootOf<Api>
  /** The object this side serves as its root. */
  readonly localRoot: object
  readonly closed: boolean
  /** The envelope dialect in use (`undefined` until decided on an accepting side). */
  readonly wireVersion: Message.WireVersion | undefined
  /** Closes the connection (idempotent). */
  readonly close: () => Awaitable.Awaitable<void>
  /** Completes once the connection is closed, whoever closed it. */
  readonly awaitClose: Effect.Effect<void>
  /** Checks the peer echoes `data` within `timeout` (default 3 s; RPyC's `conn.ping()`). */
  readonly ping: (data?: string, timeout?: Duration.DurationInput) => Awaitable.Awaitable<void, RemoteFailure>
  /** A synchronous request: send `handler` with `args` and wait for the reply. */
  readonly request: (
    handler: number,
    args: ReadonlyArray<unknown>,
    options?: RequestOptions
  ) => Effect.Effect<unknown, RemoteFailure>
  /**
   * Sends a request now and calls `onResult` once with its outcome (reply, remote error, timeout
   * or close). Returns the request's seq. The building block of `AsyncResult`.
   */
  readonly submit: (
    handler: number,
    args: ReadonlyArray<unknown>,
    onResult: (exit: Exit.Exit<unknown, RemoteFailure>) => void,
    options?: RequestOptions
  ) => number
  /** The runtime the connection was made in (its Clock drives timeouts and expiries). */
  readonly runtime: Runtime.Runtime<never>
  /** Objects of ours the peer holds references to. */
  readonly localObjectCount: number
  /**
   * Requests of ours awaiting a reply, including those whose callers were interrupted (the peer is
   * still working on them): each leaves at its reply, its timeout or the close.
   */
  readonly pendingCount: number
  /** Live netrefs to the peer's objects. */
  readonly netrefCount: number
}

/** @since 0.1.0 @category models */
export interface RequestOptions {
  /** Overrides `syncRequestTimeout` for this request; `null` waits forever. */
  readonly timeout?: Duration.DurationInput | null | undefined
}

/** A local value the peer may hold: result of a hook that may be sync, a Promise or an Effect. */
type Hook = (conn: Connection) => unknown

/**
 * How to run a connection.
 *
 * @since 0.1.0 @category models
 */
export interface Options {
  /** What GETROOT returns to the peer. */
  readonly root: object
  readonly config?: Config.ConfigInput | undefined
  /**
   * `5` / `6`: speak that dialect. `"auto"` (default): decide from the first payload received; if
   * this side must send first, it speaks v5.
   */
  readonly wireVersion?: Message.WireVersion | "auto" | undefined
  readonly maxFrameSize?: number | undefined
  /** Compress payloads over 3000 bytes (default true, like Python). */
  readonly compress?: boolean | undefined
  /**
   * Ask for the peer's root as soon as the connection is open (after `onConnect`), not at its first
   * use: a client of a 6.x server speaks first, since the server cannot tell the dialect until it does.
   */
  readonly speakFirst?: boolean | undefined
  /** Runs once the transport is open, before `make` returns; may return a Promise or an Effect. */
  readonly onConnect?: Hook | undefined
  /** Runs after the connection closed (no I/O possible). */
  readonly onDisconnect?: Hook | undefined
  /** Called once, when the connection is over: after `onDisconnect`, as `awaitClose` completes. */
  readonly onGone?: (() => void) | undefined
  /** Which side this is, for messages about a peer that is not RPyC at all. */
  readonly side?: "connecting" | "accepting" | undefined
  /** The peer's address and service, for telemetry (an accepting side has them from its config). */
  readonly peer?: Instrument.Peer | undefined
}

/**
 * What a connection serves: its root and the hooks of the service it belongs to.
 *
 * @since 0.1.0 @category models
 */
export type Served = Pick<Options, "root" | "onConnect" | "onDisconnect">

/**
 * How to run a connection, but for what it serves.
 *
 * @since 0.1.0 @category models
 */
export type Settings = Omit<Options, "root" | "onConnect" | "onDisconnect">

const PING_TIMEOUT = Duration.seconds(3)
/** How long an accepting side that must send first waits to learn the peer's dialect (then: v5). */
const VERSION_WAIT_MILLIS = 1000
const CLOSE_FLUSH_MILLIS = 2000
/** the largest buffer a batch of outgoing frames starts with */
const OUTGOING_HINT_MAX = 64 * 1024
/** a batch this large leaves at once, without waiting for the end of the turn */
const OUTGOING_FLUSH_BYTES = 32 * 1024
let connectionCounter = 0

export { byRef } from "../object/LocalObjects.js"

const isValue = (v: unknown): boolean => {
  if (Array.isArray(v)) {
    if (isByRef(v)) return false
    for (let i = 0; i < v.length; i++) if (!isValue(v[i])) return false
    return true
  }
  return Brine.isDumpable(v)
}

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  (typeof u === "object" || typeof u === "function") && u !== null &&
  typeof (u as { then?: unknown }).then === "function"

/**
 * Turns what a hook or handler returned (a value, a Promise or an Effect) into an Effect.
 *
 * @since 0.1.0 @category utils
 */
export const fromHookResult = (result: unknown): Effect.Effect<unknown, unknown> =>
  Effect.isEffect(result)
    ? result as Effect.Effect<unknown, unknown>
    : isPromiseLike(result)
    ? Effect.tryPromise({ try: () => Promise.resolve(result), catch: (e) => e })
    : Effect.succeed(result)

const asIdPack = (v: unknown): Message.IdPack => {
  if (Array.isArray(v) && v.length === 3) {
    const name = v[0] instanceof Uint8Array ? new TextDecoder().decode(v[0]) : v[0]
    if (
      typeof name === "string" && (typeof v[1] === "number" || typeof v[1] === "bigint") &&
      (typeof v[2] === "number" || typeof v[2] === "bigint")
    ) {
      return [name, v[1], v[2]]
    }
  }
  throw valueError(`invalid id_pack ${String(v)}`)
}

const NO_REPLY: unique symbol = Symbol("NO_REPLY")

/** Handlers whose first argument is the object operated on, so that they can be forwarded to its owner. */
const FORWARDED: ReadonlySet<number> = new Set([
  Handler.GETATTR,
  Handler.DELATTR,
  Handler.SETATTR,
  Handler.CALL,
  Handler.CALLATTR,
  Handler.REPR,
  Handler.STR,
  Handler.CMP,
  Handler.HASH,
  Handler.DIR,
  Handler.PICKLE,
  Handler.BUFFITER,
  Handler.OLDSLICING,
  Handler.CTXEXIT,
  Handler.INSTANCECHECK
])

interface Pending {
  readonly onResult: (exit: Exit.Exit<unknown, RemoteFailure>) => void
  readonly handler: number
  readonly deadline: number
  readonly timeoutMillis: number | null
}

class ConnectionImpl implements Connection<any>, Netref.Owner {
  readonly [TypeId]: TypeId = TypeId
  readonly id: string
  readonly config: Config.ProtocolConfig
  readonly root: RemoteOp.Remote
  closed = false
  wireVersion: Message.WireVersion | undefined

  private seq = 0
  private tick = 0
  private closing = false
  private shuttingDown = false
  private readonly pending = new PendingRequests.PendingRequests<Pending>()
  private readonly objects = new ObjectTable()
  private readonly netrefs = new Map<string, WeakRef<Netref.Netref>>()
  private readonly decoder: Channel.FrameDecoder
  private readonly decodeOptions: Brine.DecodeOptions
  /** how frames are encoded (compression on or off), made once rather than per message */
  private readonly frameOptions: Channel.EncodeOptions
  private readonly onDisconnect: Hook | undefined
  private readonly onGone: (() => void) | undefined
  private readonly side: "connecting" | "accepting" | undefined
  /** payloads received so far: a first one that is not RPyC means the peer is something else */
  private payloadsReceived = 0
  /** object references unboxed from the message being handled (`maxRefsPerMessage`) */
  private refsInMessage = 0
  /** requests of the peer whose handlers are still running (`maxConcurrentRequests`) */
  private requestsInProgress = 0
  /** set when the peer ended its side while its requests were still running: they get their replies first */
  private peerEnded: ConnectionClosed | undefined
  private halfCloseTimer: ReturnType<typeof setTimeout> | undefined
  /** what the transport can do: pause reading, write after the peer's end, one write per frame */
  capabilities: StreamCapabilities.StreamCapabilities | undefined
  /** bytes queued for the writer and not yet written */
  unsentBytes = 0
  private readPaused = false
  /** spans and metrics, when telemetry is on (`Instrument.enabled`): every hook is one check when off */
  instrument: Instrument.Instrument | undefined

  readonly localRoot: object

  constructor(
    served: Served,
    options: Settings,
    /** what the writer fiber writes; absent when frames go straight into the stream (`direct`) */
    private readonly outbox: Mailbox.Mailbox<Uint8Array> | undefined,
    readonly runtime: Runtime.Runtime<never>
  ) {
    this.config = Config.make(options.config)
    this.id = this.config.connid ?? `conn${++connectionCounter}`
    this.wireVersion = options.wireVersion === 5 || options.wireVersion === 6 ? options.wireVersion : undefined
    this.decoder = new Channel.FrameDecoder({ maxFrameSize: options.maxFrameSize })
    this.decodeOptions = { maxIntDigits: this.config.maxIntDigits, maxValues: this.config.maxValuesPerMessage }
    this.frameOptions = { compress: options.compress !== false }
    this.localRoot = served.root
    this.onDisconnect = served.onDisconnect
    this.onGone = options.onGone
    this.side = options.side
    this.root = RemoteOp.fromEffect(Effect.suspend(() => this.fetchRoot()), "root", () => this.rootRef)
  }

  private rootRef: Netref.Netref | undefined
  /** callers waiting for the one GETROOT in flight */
  private rootWaiters: Array<(exit: Exit.Exit<unknown, RemoteFailure>) => void> | undefined

  /** GETROOT once per connection, shared by concurrent first uses, then cached. */
  private fetchRoot(): Effect.Effect<unknown, RemoteFailure> {
    if (this.rootRef !== undefined) return Effect.succeed(this.rootRef)
    return Effect.async<unknown, RemoteFailure>((resume) => this.requestRoot(resume))
  }

  /** Sends GETROOT unless it is in flight or answered; `onRoot` gets the outcome. */
  requestRoot(onRoot: (exit: Exit.Exit<unknown, RemoteFailure>) => void): void {
    if (this.rootRef !== undefined) return onRoot(Exit.succeed(this.rootRef))
    if (this.rootWaiters !== undefined) {
      this.rootWaiters.push(onRoot)
      return
    }
    const waiters = this.rootWaiters = [onRoot]
    this.submit(Handler.GETROOT, [], (exit) => {
      this.rootWaiters = undefined
      if (Exit.isSuccess(exit) && Netref.isNetref(exit.value)) this.rootRef = exit.value
      for (const waiter of waiters) waiter(exit)
    })
  }

  get localObjectCount(): number {
    return this.objects.size
  }
  get pendingCount(): number {
    return this.pending.size
  }
  get netrefCount(): number {
    let n = 0
    for (const ref of this.netrefs.values()) if (ref.deref() !== undefined) n++
    return n
  }

  // ---------------------------------------------------------------------------------------------
  // outbound

  private send(msg: Message.MsgType, seq: number, args: unknown): void {
    if (this.shuttingDown) return
    if (this.wireVersion === undefined) {
      // an accepting side that must speak first waits to hear which dialect the peer speaks
      this.beforeVersion.push([msg, seq, args])
      this.versionFallback ??= setTimeout(() => this.settleVersion(5), VERSION_WAIT_MILLIS)
      return
    }
    if (this.direct !== undefined) {
      // checked for backpressure as the turn's frames reach the stream (flushOutgoing)
      return this.sendDirect(this.wireVersion, msg, seq, args)
    }
    const payload = Message.encodePayload(this.wireVersion, msg, seq, args)
    const frame = Channel.encodeFrame(payload, this.frameOptions)
    if (this.instrument !== undefined) this.instrument.sent(msg, seq, args, payload.length, frame.length)
    this.outbox!.unsafeOffer(frame)
    this.unsentBytes += frame.length
    this.pauseIfFull()
  }

  /** Backpressure: a peer that does not read our replies stops being read. */
  private pauseIfFull(): void {
    if (!this.readPaused && this.capabilities !== undefined && this.queuedBytes() > this.config.outgoingHighWaterMark) {
      this.readPaused = true
      this.capabilities.pause()
    }
  }

  /**
   * Frames sent in this turn of the event loop, built in place one after the other: they leave in
   * one write when the turn's synchronous work is done (a reply per pipelined request, a request
   * per call of a `Promise.all`), with no buffer or stream write per frame.
   */
  private outgoing: Brine.Writer | undefined
  /** the size of the last batch, up to 64 KiB: the next one starts that large */
  private outgoingHint = 256

  private sendDirect(version: Message.WireVersion, msg: Message.MsgType, seq: number, args: unknown): void {
    const w = this.turnWriter()
    const start = Channel.beginFrame(w)
    let payloadLength: number
    try {
      Message.writePayload(w, version, msg, seq, args)
      payloadLength = Channel.endFrame(w, start, this.frameOptions)
    } catch (e) {
      // what this message wrote is dropped; the frames before it still go
      w.pos = start
      throw e
    }
    if (this.instrument !== undefined) this.instrument.sent(msg, seq, args, payloadLength, w.pos - start)
    this.frameWritten(w)
  }

  /**
   * Sends request `seq` with its arguments boxed as they are written: no boxed copy of them is
   * built. Throws what boxing throws, having sent nothing.
   */
  private sendRequestDirect(version: Message.WireVersion, seq: number, handler: number, args: unknown): void {
    const w = this.turnWriter()
    const start = Channel.beginFrame(w)
    try {
      Message.writeRequestHead(w, version, seq, handler)
      this.boxInto(w, args)
      Channel.endFrame(w, start, this.frameOptions)
    } catch (e) {
      w.pos = start
      throw e
    }
    this.frameWritten(w)
  }

  /** This turn's frames, flushed at its end. */
  private turnWriter(): Brine.Writer {
    let w = this.outgoing
    if (w === undefined) {
      w = this.outgoing = new Brine.Writer(this.outgoingHint, SpareBuffer.allocate)
      queueMicrotask(this.flushOutgoing)
    }
    return w
  }

  private frameWritten(w: Brine.Writer): void {
    // a long burst (thousands of calls in flight) goes out in pieces, so that the peer starts on
    // the first while the rest are still being written
    if (w.pos >= OUTGOING_FLUSH_BYTES) this.flushOutgoing()
  }

  /** Hands this turn's frames to the stream; also before the stream ends, so that none is lost. */
  private readonly flushOutgoing = (): void => {
    const w = this.outgoing
    if (w === undefined) return
    this.outgoing = undefined
    if (w.pos === 0) return
    this.outgoingHint = Math.min(Math.max(w.pos, 256), OUTGOING_HINT_MAX)
    const buffer = w.buf
    // a large batch's buffer builds the next one once the system has it (SpareBuffer)
    this.direct!.write(w.result(), SpareBuffer.keeps(buffer) ? () => SpareBuffer.give(buffer) : undefined)
    // the stream's state was just written: reading its buffered bytes now, not at every send (where
    // it is a cache miss per call when a server holds thousands of connections)
    if (this.readPaused) this.resumeIfDrained()
    else this.pauseIfFull()
  }

  /** Bytes sent and not yet handed to the system: in the stream's buffer, or in our queue. */
  private queuedBytes(): number {
    return this.direct !== undefined ? this.direct.buffered() + (this.outgoing?.pos ?? 0) : this.unsentBytes
  }

  /** Reading resumes once what is queued falls below the low mark. */
  private resumeIfDrained(): void {
    if (this.readPaused && this.queuedBytes() < this.config.outgoingLowWaterMark) {
      this.readPaused = false
      if (!this.shuttingDown) this.capabilities?.resume()
    }
  }

  /** The stream took `frame`s synchronously: no writer fiber, no queue of our own. */
  direct: StreamCapabilities.DirectWriter | undefined

  /** The stream's buffer drained: reading resumes if it was paused for it. */
  readonly drained = (): void => this.resumeIfDrained()

  /** The writer wrote `bytes`: reading resumes once what is left falls below the low mark. */
  written(bytes: number): void {
    this.unsentBytes -= bytes
    this.resumeIfDrained()
  }

  private readonly beforeVersion: Array<readonly [Message.MsgType, number, unknown]> = []
  private versionFallback: ReturnType<typeof setTimeout> | undefined

  /** Fixes the dialect (detected, or v5 after a silent peer) and sends what waited for it. */
  private settleVersion(version: Message.WireVersion): void {
    if (this.versionFallback !== undefined) clearTimeout(this.versionFallback)
    this.versionFallback = undefined
    if (this.wireVersion === undefined) this.wireVersion = version
    for (const [msg, seq, args] of this.beforeVersion.splice(0)) this.send(msg, seq, args)
  }

  private timeoutMillisFor(options: RequestOptions | undefined): number | null {
    const timeout = options?.timeout
    if (timeout !== undefined) return timeout === null ? null : Duration.toMillis(timeout)
    const t = this.config.syncRequestTimeout
    return t === null || t < 0 ? null : t * 1000
  }

  readonly submit = (
    handler: number,
    args: ReadonlyArray<unknown>,
    onResult: (exit: Exit.Exit<unknown, RemoteFailure>) => void,
    options?: RequestOptions
  ): number => {
    if (this.closed) {
      onResult(Exit.fail(new ConnectionClosed({ reason: "Closed" })))
      return -1
    }
    const seq = this.seq
    // the common case, straight into this turn's frames; else boxed first (telemetry sees the size
    // of each request, and a frame that waits for the peer's dialect or a writer fiber is built later)
    const direct = this.direct !== undefined && this.wireVersion !== undefined && this.instrument === undefined
    let boxed: unknown
    try {
      if (direct) this.sendRequestDirect(this.wireVersion!, seq, handler, args)
      else boxed = this.box(args)
    } catch (e) {
      onResult(Exit.fail(encodeFailure(e)))
      return -1
    }
    this.seq++
    if (this.instrument !== undefined) onResult = this.instrument.call(seq, handler, args, onResult)
    const timeoutMillis = this.timeoutMillisFor(options)
    const deadline = timeoutMillis === null ? Infinity : this.tick + Math.ceil(timeoutMillis / Sweeper.TICK_MILLIS) + 1
    this.pending.add(seq, { onResult, handler, deadline, timeoutMillis })
    if (!direct) this.send(MsgType.REQUEST, seq, [handler, boxed])
    if (timeoutMillis !== null) {
      this.timedPending++
      this.wakeSweeper()
    }
    return seq
  }

  /**
   * Whether the process's sweeper ticks this connection: only while timed requests are pending, so
   * an idle connection costs it nothing. Its ticks are the Effect clock's (a `TestClock` in tests).
   */
  private ticking = false

  /** The sweeper ticking this connection while it has timed requests pending. */
  sweeper: Sweeper.Sweeper | undefined = undefined

  private wakeSweeper(): void {
    if (this.ticking || this.shuttingDown) return
    this.ticking = true
    Sweeper.join(this.runtime, this)
  }

  /** A tick of the sweeper: expires what is due; false once nothing timed is left (it stops ticking us). */
  readonly onTick = (): boolean => {
    this.expire()
    this.ticking = this.timedPending > 0 && !this.shuttingDown
    return this.ticking
  }

  /** Fibers of the peer's requests whose handlers are Effects still running. */
  private handlerFibers: Set<Fiber.RuntimeFiber<unknown, unknown>> | undefined

  private runHandler(effect: Effect.Effect<unknown>): void {
    const fiber = Runtime.runFork(this.runtime)(effect)
    const fibers = this.handlerFibers ??= new Set()
    fibers.add(fiber)
    fiber.addObserver(() => fibers.delete(fiber))
  }

  /** Requests with a deadline still waiting: the sweeper sleeps when there are none. */
  private timedPending = 0

  /** Removes and returns a pending request. */
  private takePending(seq: number): Pending | undefined {
    const p = this.pending.take(seq)
    if (p !== undefined && p.timeoutMillis !== null) this.timedPending--
    return p
  }

  /**
   * A request as an Effect. A caller interrupted while waiting stops waiting at once; its request
   * stays pending until the reply (dropped: Effect resumes a fiber once), the request's timeout or the
   * close. Only with telemetry is the request also given a canceller, which records the call as
   * interrupted: a canceller wraps every request in an `onInterrupt`, whose objects live as long as the
   * call waits; at a thousand connections they cost some 4 of the client's 22 us of CPU per call.
   */
  readonly request = (
    handler: number,
    args: ReadonlyArray<unknown>,
    options?: RequestOptions
  ): Effect.Effect<unknown, RemoteFailure> =>
    Effect.async<unknown, RemoteFailure>((resume) => {
      const seq = this.submit(handler, args, resume, options)
      const instrument = this.instrument
      if (seq < 0 || instrument === undefined) return
      return Effect.sync(() => {
        if (this.takePending(seq) !== undefined) instrument.abandon(seq)
      })
    })

  /**
   * Sends a request nobody waits for (DEL); its reply is consumed silently, and forgotten after
   * `delReplyTimeout` so that a peer that never answers costs nothing.
   */
  private sendAsync(handler: number, boxedArgs: unknown): void {
    if (this.closed) return
    const seq = this.seq++
    const timeoutMillis = Math.max(0, this.config.delReplyTimeout) * 1000
    const deadline = this.tick + Math.ceil(timeoutMillis / Sweeper.TICK_MILLIS) + 1
    this.pending.add(seq, { onResult: ignore, handler, deadline, timeoutMillis })
    this.send(MsgType.REQUEST, seq, [handler, boxedArgs])
    this.timedPending++
    this.wakeSweeper()
  }

  /** Called by the sweeper every tick while timed requests are pending. */
  expire(): void {
    this.tick++
    this.pending.forEach((p, seq) => {
      if (p.deadline <= this.tick && this.takePending(seq) !== undefined) {
        p.onResult(Exit.fail(
          new RequestTimeout({
            reason: "Expired",
            handler: Message.handlerName(p.handler),
            seq,
            timeoutMillis: p.timeoutMillis ?? 0
          })
        ))
      }
    })
  }

  // ---------------------------------------------------------------------------------------------
  // boxing

  private box(value: unknown): unknown {
    if (isValue(value)) return [Label.VALUE, value]
    if (Array.isArray(value) && !isByRef(value)) return [Label.TUPLE, value.map((v) => this.box(v))]
    const idPack = this.refOf(value)
    return [this.refLabel(value), idPack]
  }

  /** Appends what `box(value)` would return, encoded, without building it. */
  private boxInto(w: Brine.Writer, value: unknown): void {
    // a box is a (label, value) pair
    Brine.writeTupleHeader(w, 2)
    if (isValue(value)) {
      Brine.write(w, Label.VALUE)
      return Brine.write(w, value)
    }
    if (Array.isArray(value) && !isByRef(value)) {
      Brine.write(w, Label.TUPLE)
      Brine.writeTupleHeader(w, value.length)
      for (let i = 0; i < value.length; i++) this.boxInto(w, value[i])
      return
    }
    const idPack = this.refOf(value)
    Brine.write(w, this.refLabel(value))
    Brine.write(w, idPack)
  }

  /** The id_pack `value` is sent by, a netref of ours or an object of ours (registered as such). */
  private refOf(value: unknown): Message.IdPack {
    const state = Netref.stateOf(value)
    if (state !== undefined) {
      if (state.released) {
        throw new ProtocolError({ reason: "Encode", detail: `${state.idPack[0]} netref was released` })
      }
      // a netref of another connection: re-exported under its own id_pack (RPyC over RPyC)
      if (state.owner !== this) this.objects.add(value as object, state.idPack)
      return state.idPack
    }
    if ((typeof value === "object" && value !== null) || typeof value === "function") {
      const idPack = idPackOf(value)
      this.objects.add(value, idPack)
      return idPack
    }
    throw new ProtocolError({
      reason: "Encode",
      detail: typeof value === "string" ? "string contains a lone surrogate" : `cannot send a ${typeof value}`
    })
  }

  /** A netref of this connection goes back as the peer's own object; anything else as one of ours. */
  private refLabel(value: unknown): number {
    return Netref.stateOf(value)?.owner === this ? Label.LOCAL_REF : Label.REMOTE_REF
  }

  private unbox(box: unknown): unknown {
    if (!Array.isArray(box) || box.length !== 2) throw valueError("invalid box")
    const [label, value] = box
    switch (label) {
      case Label.VALUE:
        return value
      case Label.TUPLE:
        if (!Array.isArray(value)) throw valueError("invalid tuple box")
        return value.map((v) => this.unbox(v))
      case Label.LOCAL_REF:
        this.countRef()
        return this.objects.get(asIdPack(value))
      case Label.REMOTE_REF:
        this.countRef()
        return this.netrefFor(asIdPack(value))
    }
    throw valueError(`invalid label ${String(label)}`)
  }

  private countRef(): void {
    if (++this.refsInMessage > this.config.maxRefsPerMessage) {
      throw valueError(`a message of more than ${this.config.maxRefsPerMessage} object references (maxRefsPerMessage)`)
    }
  }

  private netrefFor(idPack: Message.IdPack): Netref.Netref {
    const key = keyOf(idPack)
    const cached = this.netrefs.get(key)?.deref()
    if (cached !== undefined) {
      const state = Netref.stateOf(cached)!
      if (!state.released) {
        state.refcount++
        return cached
      }
    }
    const ref = Netref.make(this, idPack, key, RemoteOp.netrefOps)
    this.netrefs.set(key, new WeakRef(ref))
    if (this.instrument !== undefined) this.instrument.netref(1)
    return ref
  }

  readonly release = (state: Netref.State): void => {
    const current = this.netrefs.get(state.key)?.deref()
    if (current === undefined || Netref.stateOf(current) === state) this.netrefs.delete(state.key)
    if (this.instrument !== undefined) this.instrument.netref(-1)
    if (this.closed) return
    this.sendAsync(Handler.DEL, [Label.TUPLE, [[Label.LOCAL_REF, state.idPack], [Label.VALUE, state.refcount]]])
  }

  // ---------------------------------------------------------------------------------------------
  // inbound

  /** The socket handler: synchronous, so frames are handled in order and nothing is forked per chunk. */
  onChunk(chunk: Uint8Array): void {
    if (this.shuttingDown) return
    if (this.instrument !== undefined) this.instrument.read(chunk.length)
    let payloads: Array<Uint8Array>
    if (this.firstBytes === undefined) this.firstBytes = chunk.slice(0, 32)
    try {
      payloads = this.decoder.push(chunk)
    } catch (e) {
      return this.protocolFailure(new ProtocolError({ reason: "Frame", detail: this.notRpyc((e as Error).message) }))
    }
    for (const payload of payloads) {
      if (this.shuttingDown) return
      this.onPayload(payload)
    }
    // frames completed before bad bytes in the same chunk were served first, as Python would
    if (this.decoder.failure !== undefined && !this.shuttingDown) {
      this.protocolFailure(new ProtocolError({ reason: "Frame", detail: this.decoder.failure.message }))
    }
  }

  /** the start of what the peer sent, for telling a peer that is not RPyC at all */
  private firstBytes: Uint8Array | undefined

  /** A failure on the very first payload: say so plainly, with the bytes that were received. */
  private notRpyc(detail: string): string {
    if (this.payloadsReceived > 0 || this.firstBytes === undefined) return detail
    const peer = this.side === "connecting" ? "server" : this.side === "accepting" ? "client" : "peer"
    const bytes = this.firstBytes
    const text = Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("")
    const hex = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join(" ")
    return `not an RPyC ${peer}: the first bytes received were "${text}" (${hex}) (${detail})`
  }

  private onPayload(payload: Uint8Array): void {
    let envelope: Message.Envelope
    try {
      let version = this.wireVersion
      if (version === undefined) {
        version = Message.detectVersion(payload)
        this.settleVersion(version)
      }
      envelope = Message.decodePayload(version, payload, this.decodeOptions)
    } catch (e) {
      const reason = e instanceof Brine.BrineError ? "Brine" : e instanceof Message.EnvelopeError &&
          e.reason === "UnknownVersion"
        ? "WireVersion"
        : "Envelope"
      return this.protocolFailure(new ProtocolError({ reason, detail: this.notRpyc((e as Error).message) }))
    } finally {
      this.payloadsReceived++
    }
    this.refsInMessage = 0
    if (this.instrument !== undefined) this.instrument.received(envelope.msg, envelope.seq, payload.length)
    switch (envelope.msg) {
      case MsgType.REQUEST:
        return this.onRequest(envelope.seq, envelope.args)
      case MsgType.REPLY:
        return this.onReply(envelope.seq, envelope.args)
      case MsgType.EXCEPTION:
        return this.onException(envelope.seq, envelope.args)
    }
  }

  private onReply(seq: number, box: unknown): void {
    const p = this.takePending(seq)
    if (p === undefined) return // timed out or never sent: dropped, as RPyC does
    let value: unknown
    try {
      value = this.unbox(box)
    } catch (e) {
      return p.onResult(Exit.fail(new ProtocolError({ reason: "Label", detail: String((e as Error).message) })))
    }
    p.onResult(Exit.succeed(value))
  }

  private onException(seq: number, vinegar: unknown): void {
    const p = this.takePending(seq)
    if (p === undefined) return
    try {
      p.onResult(Exit.fail(Vinegar.load(vinegar)))
    } catch (e) {
      p.onResult(Exit.fail(e as ProtocolError))
    }
  }

  private onRequest(seq: number, raw: unknown): void {
    let result: unknown
    try {
      if (this.requestsInProgress >= this.config.maxConcurrentRequests) {
        throw new PythonException(
          "RuntimeError",
          `too many requests in progress on this connection (maxConcurrentRequests = ${this.config.maxConcurrentRequests})`
        )
      }
      if (!Array.isArray(raw) || raw.length !== 2) throw valueError("malformed request")
      const args = this.unbox(raw[1])
      if (!Array.isArray(args)) throw typeError("request arguments must be a tuple")
      result = this.instrument === undefined
        ? this.serve(raw[0], args)
        : this.instrument.serve(seq, raw[0], args, () => this.serve(raw[0], args))
    } catch (e) {
      return this.replyError(seq, e)
    }
    if (result !== NO_REPLY) this.settle(seq, result)
  }

  /**
   * Replies with `result` once it is a plain value: awaits Promises, runs Effects in their own fiber.
   * A request still running (`counted`) counts toward `maxConcurrentRequests` until it replies.
   */
  private settle(seq: number, result: unknown, counted = false): void {
    if (RemoteOp.isRemoteOp(result)) {
      // an operation on a netref (a handler calling the peer back): a call goes out as one request
      // whose reply settles ours; any other, through the operation's Promise; no fiber either way
      if (!counted) this.requestsInProgress++
      if (RemoteOp.submitNow(result, (exit) => this.settleExit(seq, exit))) return
      ;(result as PromiseLike<unknown>).then((v) => this.settle(seq, v, true), (e) => this.replyError(seq, e, true))
    } else if (Effect.isEffect(result)) {
      if (!counted) this.requestsInProgress++
      this.runHandler(
        Effect.matchCauseEffect(result as Effect.Effect<unknown, unknown>, {
          onSuccess: (v) => Effect.sync(() => this.settle(seq, v, true)),
          onFailure: (cause) =>
            Effect.sync(() => {
              if (Cause.isInterruptedOnly(cause)) return this.requestDone(true)
              this.replyError(seq, Cause.squash(cause), true)
            })
        })
      )
    } else if (isPromiseLike(result)) {
      if (!counted) this.requestsInProgress++
      result.then((v) => this.settle(seq, v, true), (e) => this.replyError(seq, e, true))
    } else {
      let boxed: unknown
      try {
        boxed = this.box(result)
      } catch (e) {
        return this.replyError(seq, e, counted)
      }
      this.send(MsgType.REPLY, seq, boxed)
      this.requestDone(counted)
    }
  }

  /** A counted request has its answer: one fewer in progress, and maybe the last one a half-closed peer awaited. */
  private requestDone(counted: boolean): void {
    if (!counted) return
    this.requestsInProgress--
    const ended = this.peerEnded
    if (this.requestsInProgress === 0 && ended !== undefined) this.shutdown(() => ended)
  }

  /** A counted request's answer, from a request of ours it made. */
  private settleExit(seq: number, exit: Exit.Exit<unknown, RemoteFailure>): void {
    if (Exit.isSuccess(exit)) this.settle(seq, exit.value, true)
    else this.replyError(seq, Cause.squash(exit.cause), true)
  }

  private replyError(seq: number, error: unknown, counted = false): void {
    const vinegar = Vinegar.dump(error, {
      includeLocalTraceback: this.config.includeLocalTraceback,
      includeLocalVersion: this.config.includeLocalVersion,
      wireVersion: this.wireVersion
    })
    if (vinegar !== Message.EXC_STOP_ITERATION) {
      // as RPyC's logger.debug("Exception caught"): a peer's failed request is not our error
      const line = `${this.id}: request #${seq} raised ${
        error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      }`
      this.config.logger?.(line)
      this.log("Debug", line)
    }
    this.send(MsgType.EXCEPTION, seq, vinegar)
    this.requestDone(counted)
  }

  /** The request handlers (PROTOCOL.md §3.4). Returns the reply value, a Promise/Effect of it, or NO_REPLY. */
  private serve(handler: unknown, args: ReadonlyArray<unknown>): unknown {
    const target = args[0]
    // a netref of another connection in our table (RPyC over RPyC): forward the operation to it
    const chained = Netref.stateOf(target)
    if (chained !== undefined && chained.owner !== this && FORWARDED.has(handler as number)) {
      return chained.owner.request(handler as number, args)
    }
    const config = this.config
    switch (handler) {
      case Handler.PING:
        return args[0]
      case Handler.CLOSE:
        this.shutdown(peerSentClose)
        return NO_REPLY
      case Handler.GETROOT:
        return this.localRoot
      case Handler.GETATTR:
        return Policy.getattr(config, objectArg(target), args[1])
      case Handler.DELATTR:
        Policy.delattr(config, objectArg(target), args[1])
        return null
      case Handler.SETATTR:
        Policy.setattr(config, objectArg(target), args[1], args[2])
        return null
      case Handler.CALL:
        return Pythonic.call(target, tupleArg(args[1]), kwargsArg(args[2]))
      case Handler.CALLATTR:
        return Policy.callattr(config, objectArg(target), args[1], tupleArg(args[2]), kwargsArg(args[3]))
      case Handler.REPR:
        return Pythonic.reprOf(target)
      case Handler.STR:
        return Pythonic.strOf(target)
      case Handler.CMP: {
        const op = Policy.resolve(config, objectArg(target), args[2] ?? "__cmp__", "allowGetattr")
        return Pythonic.compare(objectArg(target), args[1], op)
      }
      case Handler.HASH:
        return Pythonic.hashOf(objectArg(target))
      case Handler.DIR:
        return Pythonic.dirOf(objectArg(target))
      case Handler.PICKLE:
        if (!config.allowPickle) throw valueError("pickling is disabled")
        return Pickle.dumps(target)
      case Handler.DEL: {
        const count = args[1] ?? 1
        if (typeof count !== "number") throw typeError("DEL count must be an int")
        this.objects.decref(chained?.idPack ?? idPackOf(objectArg(target)), count)
        return null
      }
      case Handler.INSPECT: {
        const obj = this.objects.get(asIdPack(target))
        const owner = Netref.stateOf(obj)
        if (owner !== undefined) return owner.owner.request(Handler.INSPECT, [owner.idPack])
        return Pythonic.dunderNames(obj).map((name) => [name, null])
      }
      case Handler.BUFFITER:
        // at most a message's worth of items per batch: buffiter asks again until the iterator is done
        return Pythonic.takeFrom(objectArg(target), clampCount(args[1], this.config.maxValuesPerMessage))
      case Handler.OLDSLICING: {
        const [, attempt, fallback, start, stop, rest] = args
        const obj = objectArg(target)
        try {
          return Pythonic.call(Policy.getattr(config, obj, attempt), [
            new Brine.Slice(start as Brine.Value, stop as Brine.Value),
            ...tupleArg(rest)
          ])
        } catch {
          return Pythonic.call(Policy.getattr(config, obj, fallback), [start, stop, ...tupleArg(rest)])
        }
      }
      case Handler.CTXEXIT: {
        const exit = Policy.getattr(config, objectArg(target), "__exit__")
        return Pythonic.call(exit, [args[1] ?? null, null, null])
      }
      case Handler.INSTANCECHECK: {
        if (typeof target !== "function") throw typeError("isinstance() arg 2 must be a type")
        const other = asIdPack(args[1])
        if (this.objects.has(other)) return this.objects.get(other) instanceof target
        return Number(other[1]) === idOf(target)
      }
    }
    throw keyError(handler)
  }

  // ---------------------------------------------------------------------------------------------
  // lifetime

  private log(level: "Warning" | "Error" | "Debug" | "Info", message: string, cause?: unknown): void {
    const log = level === "Warning"
      ? Effect.logWarning
      : level === "Error"
      ? Effect.logError
      : level === "Debug"
      ? Effect.logDebug
      : Effect.logInfo
    Runtime.runFork(this.runtime)(
      log(message, ...(cause === undefined ? [] : [cause])).pipe(Effect.annotateLogs("connection", this.id))
    )
  }

  private protocolFailure(error: ProtocolError): void {
    this.log("Error", `closing ${this.id}: protocol error`, error)
    this.shutdown(() => new ConnectionClosed({ reason: "ProtocolError", detail: error.message }))
  }

  /** The transport's reader ended: the peer closed, reset, or we closed it. */
  onTransportEnd(exit: Exit.Exit<void, unknown>): void {
    if (this.shuttingDown) return
    try {
      this.decoder.end()
    } catch (e) {
      this.log(
        "Error",
        `${this.id}: stream ended inside a frame`,
        new ProtocolError({ reason: "Frame", detail: String((e as Error).message) })
      )
    }
    if (Exit.isFailure(exit)) {
      return this.shutdown(() =>
        new ConnectionClosed({ reason: "Transport", detail: describeTransportError(Cause.squash(exit.cause)) })
      )
    }
    if (this.requestsInProgress === 0 || this.capabilities?.writableAfterEnd !== true) {
      return this.shutdown(endOfStream)
    }
    const ended = endOfStream()
    // half-closed: the peer sends nothing more, so our own calls cannot be answered; its requests
    // still running get their replies, then the connection closes (as Python RPyC does)
    this.peerEnded = ended
    // a peer killed mid-call looks the same (its FIN): its calls get as long as a call of ours would
    const grace = this.config.syncRequestTimeout
    if (grace !== null && grace >= 0) {
      this.halfCloseTimer = setTimeout(() => this.shutdown(() => ended), grace * 1000)
      this.halfCloseTimer.unref?.()
    }
    const pending = this.pending.takeAll()
    this.timedPending = 0
    for (const p of pending) p.onResult(Exit.fail(ended))
  }

  /**
   * Starts the teardown; idempotent. Fails every pending call at once, with `reason()`: made only when
   * some call is pending, since an error's stack costs more than a clean close does.
   */
  shutdown(reason: () => ConnectionClosed): void {
    if (this.shuttingDown) return
    this.shuttingDown = true
    this.flushOutgoing()
    this.closed = true
    if (this.versionFallback !== undefined) clearTimeout(this.versionFallback)
    if (this.halfCloseTimer !== undefined) clearTimeout(this.halfCloseTimer)
    if (this.pending.size > 0) {
      const pending = this.pending.takeAll()
      this.timedPending = 0
      const failure = Exit.fail(reason())
      for (const p of pending) p.onResult(failure)
    }
    if (this.instrument !== undefined) this.instrument.close()
    this.outbox?.unsafeDone(Exit.void)
    this.ticking = false
    Sweeper.leave(this)
    const handlersRunning = this.handlerFibers !== undefined && this.handlerFibers.size > 0
    if (this.internalScope === undefined && this.onDisconnect === undefined && !handlersRunning) {
      // nothing to wait for: no fiber for the teardown either
      this.letGo()
      this.markGone()
    } else {
      Runtime.runFork(this.runtime)(this.teardown)
    }
  }

  /** Feeds the stream's chunks and its end to this connection: gives what stops reading, or the stream's error. */
  readFrom(listen: StreamCapabilities.Listen): Exit.Exit<() => void, unknown> {
    return listen((chunk) => this.onChunk(chunk), (exit) => this.onTransportEnd(exit))
  }

  /** Frames go straight into the stream's buffer; reading resumes when it drains. */
  writeInto(direct: StreamCapabilities.DirectWriter): void {
    this.direct = direct
    direct.onDrain(this.drained)
  }

  /**
   * Reads a Node stream from its events and writes into it, holding it open for writing until the
   * connection lets go: no fiber, no scope.
   */
  attachStream(listen: StreamCapabilities.Listen, direct: StreamCapabilities.DirectWriter): Exit.Exit<void, unknown> {
    const reading = this.readFrom(listen)
    if (Exit.isFailure(reading)) return reading
    this.closers.push(reading.value, direct.hold())
    this.writeInto(direct)
    return Exit.void
  }

  /**
   * What the connection holds of its transport, when it needs no fiber: stop reading, release the
   * stream for writing. Released last first, once.
   */
  readonly closers: Array<() => void> = []
  /** What it holds in fibers and Effect finalizers otherwise (a writer fiber, a reader fiber). */
  internalScope: Scope.CloseableScope | undefined

  /** Lets go of the transport and of every object of either side. */
  private letGo(): void {
    const closers = this.closers
    for (let i = closers.length - 1; i >= 0; i--) closers[i]()
    closers.length = 0
    this.objects.clear()
    this.netrefs.clear()
    this.rootRef = undefined
  }

  private readonly teardown: Effect.Effect<void> = Effect.suspend(() =>
    Effect.gen(this, function*() {
      // a half-closed peer is owed the replies just queued: let the writer flush them first
      if (this.peerEnded !== undefined && this.writerFiber !== undefined) {
        yield* Fiber.await(this.writerFiber).pipe(Effect.timeout(CLOSE_FLUSH_MILLIS), Effect.ignore)
      }
      if (this.handlerFibers !== undefined && this.handlerFibers.size > 0) {
        yield* Fiber.interruptAll(this.handlerFibers)
      }
      if (this.internalScope !== undefined) yield* Scope.close(this.internalScope, Exit.void)
      this.letGo()
      if (this.onDisconnect !== undefined) {
        const hook = this.onDisconnect
        yield* Effect.suspend(() => fromHookResult(hook(this))).pipe(
          Effect.catchAllCause((cause) => Effect.logWarning(`${this.id}: onDisconnect failed`, cause))
        )
      }
      this.markGone()
    })
  )

  /** Whether the connection is over (`awaitClose` completes at once). */
  private gone = false
  /**
   * What `awaitClose` waits on, made at the first wait: most connections are never awaited, and a
   * Deferred is dearer to make than it looks (~8 µs each in the profile of a connection's life).
   */
  private done: Deferred.Deferred<void> | undefined

  private markGone(): void {
    this.gone = true
    if (this.done !== undefined) Deferred.unsafeDone(this.done, Exit.void)
    this.onGone?.()
  }

  readonly awaitClose: Effect.Effect<void> = Effect.suspend(() =>
    this.gone ? Effect.void : Deferred.await(this.done ??= Deferred.unsafeMake(FiberId.none))
  )

  /** The writer fiber, flushed before a local close. */
  writerFiber: Fiber.RuntimeFiber<void, unknown> | undefined

  private readonly closeEffect: Effect.Effect<void> = Effect.suspend(() => {
    if (this.closing || this.shuttingDown) return this.awaitClose
    this.closing = true
    if (this.config.beforeClosed === undefined && this.writerFiber === undefined) {
      // nothing to run or wait for before the CLOSE: say it and tear down now
      this.sayClose()
      this.shutdown(closedHere)
      return this.awaitClose
    }
    return Effect.gen(this, function*() {
      const before = this.config.beforeClosed
      const beforeExit = before === undefined
        ? Exit.void
        : yield* Effect.exit(Effect.flatMap(RemoteOp.toEffect(this.root), (root) => fromHookResult(before(root))))
      this.sayClose()
      this.outbox?.unsafeDone(Exit.void)
      if (this.writerFiber !== undefined) {
        yield* Fiber.await(this.writerFiber).pipe(Effect.timeout(CLOSE_FLUSH_MILLIS), Effect.ignore)
      }
      this.shutdown(closedHere)
      yield* this.awaitClose
      // the connection is closed either way; as in RPyC, the hook's error surfaces unless closeCatchall
      if (Exit.isFailure(beforeExit) && !this.config.closeCatchall) {
        return yield* Effect.die(Cause.squash(beforeExit.cause))
      }
    })
  })

  /** CLOSE is fire-and-forget (5.x semantics): the peer tears down without replying. */
  private sayClose(): void {
    this.closed = true
    this.send(MsgType.REQUEST, this.seq++, [Handler.CLOSE, [Label.VALUE, []]])
  }

  readonly close = (): Awaitable.Awaitable<void> => Awaitable.make(this.closeEffect)

  readonly ping = (data = "abcdefghijklmnopqrstuvwxyz".repeat(20), timeout: Duration.DurationInput = PING_TIMEOUT) =>
    Awaitable.make(
      Effect.flatMap(this.request(Handler.PING, [data], { timeout }), (echo) =>
        echo === data
          ? Effect.void
          : Effect.fail(new ProtocolError({ reason: "Envelope", detail: "ping: echo mismatches sent data" })))
    )
}

const ignore = () => {}

const closedHere = () => new ConnectionClosed({ reason: "Closed" })
const endOfStream = () => new ConnectionClosed({ reason: "PeerClosed", detail: "end of stream" })
const peerSentClose = () => new ConnectionClosed({ reason: "PeerClosed", detail: "the peer sent CLOSE" })

/** An integer count over `max` becomes `max`; anything else is left for takeFrom to judge. */
const clampCount = (count: unknown, max: number): unknown =>
  typeof count === "number" && Number.isSafeInteger(count) && count > max
    ? max
    : typeof count === "bigint" && count > BigInt(max)
    ? max
    : count

/**
 * A transport failure in words, with its cause: "SocketError: An error occurred during Read" alone
 * hides what happened (a TLS alert such as "certificate required", ECONNRESET, …).
 */
const describeTransportError = (error: unknown): string => {
  const cause = (error as { readonly cause?: unknown })?.cause
  const text = String(error)
  if (cause === undefined) return text
  const code = (cause as { readonly code?: unknown }).code
  const message = cause instanceof Error ? cause.message : String(cause)
  return `${text}: ${message}${typeof code === "string" && !message.includes(code) ? ` (${code})` : ""}`
}

const encodeFailure = (e: unknown): RemoteFailure =>
  e instanceof ProtocolError ? e : new ProtocolError({ reason: "Encode", detail: String((e as Error)?.message ?? e) })

const objectArg = (u: unknown): object => {
  if ((typeof u === "object" && u !== null) || typeof u === "function") return u
  throw typeError(`expected an object reference, got ${Pythonic.typeNameOf(u)}`)
}

const tupleArg = (u: unknown): ReadonlyArray<unknown> => {
  if (u === undefined || u === null) return []
  if (Array.isArray(u)) return u
  throw typeError("call arguments must be a tuple")
}

const kwargsArg = (u: unknown): ReadonlyArray<readonly [string, unknown]> => {
  const pairs = tupleArg(u)
  for (const p of pairs) {
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== "string") throw typeError("malformed keyword arguments")
  }
  return pairs as ReadonlyArray<readonly [string, unknown]>
}

/**
 * Runs `effect` in a fiber of its own, interrupted when `scope` closes. Unlike `Effect.forkIn`, the
 * fiber does not keep the fiber that started it (the caller of `connect`, long finished) and all
 * its state alive for as long as it runs: a connection's reader runs for the connection's life.
 */
const forkDetached =
  (runtime: Runtime.Runtime<never>, scope: Scope.CloseableScope) =>
  <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Fiber.RuntimeFiber<A, E>> =>
    Effect.suspend(() => {
      const fiber = Runtime.runFork(runtime)(effect)
      return Effect.as(Scope.addFinalizer(scope, Fiber.interrupt(fiber)), fiber)
    })

/**
 * Reads and writes `socket` in fibers (any platform `Socket`; a Node stream that cannot take frames
 * synchronously, such as TLS toward a peer that reads one record at a time), held by the
 * connection's own scope.
 */
const runInScope = (
  conn: ConnectionImpl,
  socket: Socket.Socket,
  runtime: Runtime.Runtime<never>,
  outbox: Mailbox.Mailbox<Uint8Array> | undefined
): Effect.Effect<void, Socket.SocketError> =>
  Effect.gen(function*() {
    const internalScope = conn.internalScope = yield* Scope.make()
    const listen = conn.capabilities?.listen
    if (listen !== undefined) {
      // a Node stream fails to listen with a SocketError, as its `run` would
      const stop = yield* (conn.readFrom(listen) as Exit.Exit<() => void, Socket.SocketError>)
      yield* Scope.addFinalizer(internalScope, Effect.sync(stop))
    } else {
      // open once `run` says so, or failed (or ended) if the reader stops first
      const opened = yield* Deferred.make<void, Socket.SocketError>()
      yield* socket.run((chunk) => conn.onChunk(chunk), { onOpen: Deferred.succeed(opened, undefined) }).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            Deferred.unsafeDone(opened, exit)
            conn.onTransportEnd(exit)
          })
        ),
        forkDetached(runtime, internalScope)
      )
      yield* Deferred.await(opened)
    }

    // held for the connection's life: releasing it ends our side of the stream
    const write = yield* socket.writer.pipe(Scope.extend(internalScope))
    const direct = conn.capabilities?.direct
    if (direct !== undefined) return conn.writeInto(direct)
    const perFrame = conn.capabilities?.writePerFrame === true
    const queue = outbox!
    conn.writerFiber = yield* Effect.gen(function*() {
      while (true) {
        const [chunks, finished] = yield* queue.takeAll
        const frames = Array.from(chunks)
        if (frames.length === 1 || (perFrame && frames.length > 0)) {
          for (const frame of frames) {
            yield* write(frame)
            conn.written(frame.length)
          }
        } else if (frames.length > 1) {
          const joined = Bytes.concat(frames)
          yield* write(joined)
          conn.written(joined.length)
        }
        if (finished) return
      }
    }).pipe(Effect.catchAll(() => Effect.void), forkDetached(runtime, internalScope))
  })

/**
 * A connection over a Node stream (a socket offering `listen` and `direct`: TCP, Unix sockets,
 * pipes), made at once with no fiber, scope or Effect of its own: it reads from the stream's events
 * and writes into it, and lives until it closes (`close`, the peer's end, an error). `make` builds on
 * it; a server uses it to serve a connection without a fiber. `undefined` where the general `make` is
 * needed: another transport, an `onConnect` hook, telemetry on in `runtime`. Fails as `make` would if
 * the stream can no longer be read.
 *
 * @since 0.1.0 @category constructors
 */
export const makeOnStream = <Api = any>(
  socket: Socket.Socket,
  options: Settings,
  served: Served,
  runtime: Runtime.Runtime<never>
): Exit.Exit<Connection<Api>, Socket.SocketError> | undefined => {
  const capabilities = StreamCapabilities.of(socket)
  const direct = capabilities?.direct
  const listen = capabilities?.listen
  if (direct === undefined || listen === undefined || served.onConnect !== undefined) return undefined
  if (Instrument.enabledIn(runtime)) return undefined
  const conn = new ConnectionImpl(served, options, undefined, runtime)
  conn.capabilities = capabilities
  const attached = conn.attachStream(listen, direct)
  // what `run` would fail with (the listen of a Node stream fails with a SocketError)
  if (Exit.isFailure(attached)) return attached as Exit.Exit<never, Socket.SocketError>
  if (options.speakFirst === true) conn.requestRoot(ignore)
  return Exit.succeed(conn as Connection<Api>)
}

/**
 * Runs an RPyC connection over `socket` for the lifetime of the current scope.
 *
 * Fails with the transport's error if the socket cannot be opened, or with the error of
 * `onConnect`.
 *
 * @since 0.1.0 @category constructors
 */
export const make = <Api = any>(
  socket: Socket.Socket,
  options: Options
): Effect.Effect<Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  makeFor(socket, options, options)

/**
 * {@link make} with what the connection serves given apart from its settings (a service's instance
 * and hooks, without a copy of the settings for each connection).
 *
 * @since 0.1.0 @category constructors
 */
export const makeFor = <Api = any>(
  socket: Socket.Socket,
  options: Settings,
  served: Served
): Effect.Effect<Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) => {
    const onStream = makeOnStream<Api>(socket, options, served, runtime)
    if (onStream === undefined) return makeInScope<Api>(socket, options, served, runtime)
    if (Exit.isFailure(onStream)) return onStream
    const conn = onStream.value
    return Effect.as(Effect.scopeWith((scope) => Scope.addFinalizer(scope, Effect.suspend(() => conn.close()))), conn)
  })

/** {@link make} for the connections {@link makeOnStream} does not take. */
const makeInScope = <Api>(
  socket: Socket.Socket,
  options: Settings,
  served: Served,
  runtime: Runtime.Runtime<never>
): Effect.Effect<Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  Effect.gen(function*() {
    const capabilities = StreamCapabilities.of(socket)
    const direct = capabilities?.direct
    const listen = capabilities?.listen
    const outbox = direct === undefined ? yield* Mailbox.make<Uint8Array>() : undefined
    const conn = new ConnectionImpl(served, options, outbox, runtime)
    conn.capabilities = capabilities
    conn.instrument = yield* Instrument.make(conn, options)
    // a plain finalizer of the scope: Effect.addFinalizer would diff and patch every FiberRef around
    // it, to run it with this fiber's, which costs more than the close and which the close needs not
    yield* Scope.addFinalizer(yield* Effect.scope, Effect.suspend(() => conn.close()))

    if (direct !== undefined && listen !== undefined) {
      // a Node stream (with a hook, or telemetry): as makeOnStream does
      yield* (conn.attachStream(listen, direct) as Exit.Exit<void, Socket.SocketError>)
    } else {
      yield* runInScope(conn, socket, runtime, outbox)
    }

    if (served.onConnect !== undefined) {
      const hook = served.onConnect
      const exit = yield* Effect.exit(Effect.suspend(() => fromHookResult(hook(conn))))
      if (Exit.isFailure(exit)) {
        yield* conn.close()
        return yield* new ConnectionClosed({
          reason: "Closed",
          detail: `onConnect failed: ${Cause.pretty(exit.cause)}`
        })
      }
    }
    if (options.speakFirst === true) conn.requestRoot(ignore)
    return conn as Connection<Api>
  })

/**
 * Whether `u` is a Connection.
 *
 * @since 0.1.0 @category guards
 */
export const isConnection = (u: unknown): u is Connection =>
  typeof u === "object" && u !== null && (u as { [TypeId]?: unknown })[TypeId] === TypeId

/**
 * Runs a scoped connection Effect as a Promise for scripts: the connection owns the scope, which
 * closes once the connection does (`conn.close()` or the peer hanging up). A failure closes the
 * scope at once and rejects with the typed error.
 *
 * @since 0.1.0 @category running
 */
export const runOwned = async <C extends Connection<any>, E>(
  connect: Effect.Effect<C, E, Scope.Scope>
): Promise<C> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const conn = await Awaitable.runPromise(Scope.extend(connect, scope))
    Effect.runFork(Effect.zipRight(conn.awaitClose, Scope.close(scope, Exit.void)))
    return conn
  } catch (error) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  }
}
