/**
 * Telemetry of one connection: a span per remote call made (`rpyc.call <HANDLER> <name>`) or served
 * (`rpyc.serve <HANDLER> <name>`), and Effect metrics for calls, errors, latency, pending requests,
 * live netrefs and bytes.
 *
 * It is off unless {@link enabled} is set where the connection is made (`Telemetry.layer`): the
 * engine then holds no instrument, and each of its hooks costs one `undefined` check. When on, the
 * tracer, the clock and the labels are read once per connection; the engine calls the hooks below
 * synchronously, so spans are made with the tracer directly rather than through an Effect per call.
 *
 * Nesting. The wire carries no trace context, so a span's parent is what this side knows:
 * - a call takes the span of the fiber that makes it; a call made while a request of the peer is
 *   being handled synchronously takes that request's span; a call made outside any span (from an
 *   async function handling a request) nests under the request being served when it is the only one;
 * - a served request nests under our call pending on the same connection when it is the only one
 *   (a callback served while we wait, as RPyC serves it in the waiting thread); a handler that
 *   returns an Effect runs under the serving span.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import { globalValue } from "effect/GlobalValue"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import type * as Runtime from "effect/Runtime"
import * as Tracer from "effect/Tracer"
import type * as Config from "../base/Config.js"
import { ConnectionClosed, type RemoteFailure } from "../base/Errors.js"
import * as Netref from "../netref/Netref.js"
import * as Vinegar from "../object/Vinegar.js"
import * as Message from "../wire/Message.js"

const { Handler, MsgType } = Message

/**
 * Whether connections made in this fiber record spans and metrics (default `false`); read once
 * when a connection is made.
 *
 * @since 0.1.0 @category fiber refs
 */
export const enabled: FiberRef.FiberRef<boolean> = globalValue(
  Symbol.for("effect-rpyc/Telemetry/enabled"),
  () => FiberRef.unsafeMake(false)
)

/**
 * Whether connections made with `runtime` record spans and metrics.
 *
 * @since 0.1.0 @category fiber refs
 */
export const enabledIn = (runtime: Runtime.Runtime<never>): boolean =>
  FiberRefs.getOrDefault(runtime.fiberRefs, enabled)

/**
 * The span attributes and metric tags.
 *
 * @since 0.1.0 @category constants
 */
export const Attributes = {
  /** `client` for a call this side makes, `server` for one it serves (per-connection metrics: the connection's role). */
  side: "rpyc.side",
  /** The service of the connection's accepting side, when known. */
  service: "rpyc.service",
  /** The peer's address (`host:port`), when known. */
  peer: "rpyc.peer",
  /** The connection's id (`conn1`, …). */
  connection: "rpyc.connection",
  /** The request handler (`CALLATTR`, `GETATTR`, …). */
  handler: "rpyc.handler",
  /** The attribute or function a request names (`add`), when it names one. */
  name: "rpyc.name",
  seq: "rpyc.seq",
  /** The request's and the reply's message sizes in bytes (uncompressed). */
  requestSize: "rpyc.request.size",
  replySize: "rpyc.reply.size",
  /** `success`, the remote exception's class name (`ValueError`), `timeout`, `closed`, `interrupted` or `protocol_error`. */
  outcome: "rpyc.outcome"
} as const

/**
 * Remote calls made (`side: client`) and served (`side: server`), by handler and outcome.
 *
 * @since 0.1.0 @category metrics
 */
export const calls = Metric.counter("rpyc.calls", { description: "RPyC requests made or served", incremental: true })

/**
 * The calls whose outcome is an error (anything but `success` and `StopIteration`).
 *
 * @since 0.1.0 @category metrics
 */
export const errors = Metric.counter("rpyc.errors", {
  description: "RPyC requests that failed: a remote exception, a timeout, a closed connection",
  incremental: true
})

/**
 * How long calls took, in milliseconds: from sending the request to its reply (client), from
 * receiving the request to sending the reply (server).
 *
 * @since 0.1.0 @category metrics
 */
export const duration = Metric.histogram(
  "rpyc.call.duration",
  MetricBoundaries.exponential({ start: 0.125, factor: 2, count: 18 }),
  "RPyC request latency in milliseconds"
)

/**
 * Requests awaiting their reply (client) or being handled (server).
 *
 * @since 0.1.0 @category metrics
 */
export const pending = Metric.gauge("rpyc.pending", { description: "RPyC requests in flight" })

/**
 * Live netrefs: references to the peer's objects this process holds.
 *
 * @since 0.1.0 @category metrics
 */
export const netrefs = Metric.gauge("rpyc.netrefs", { description: "live netrefs to the peer's objects" })

/**
 * Bytes written to the peer (frames as sent, compressed or not).
 *
 * @since 0.1.0 @category metrics
 */
export const bytesSent = Metric.counter("rpyc.bytes.sent", {
  description: "bytes written to RPyC peers",
  incremental: true
})

/**
 * Bytes read from the peer.
 *
 * @since 0.1.0 @category metrics
 */
export const bytesReceived = Metric.counter("rpyc.bytes.received", {
  description: "bytes read from RPyC peers",
  incremental: true
})

/**
 * What telemetry says about a connection's peer, where the engine cannot know it.
 *
 * @since 0.1.0 @category models
 */
export interface Peer {
  /** `host:port` (default: the config's `endpoints`, set by servers). */
  readonly address?: string | undefined
  /** The peer's service, on a connecting side (an accepting side names its own). */
  readonly service?: string | undefined
}

/** What the instrument reads of its connection. */
interface Subject {
  readonly id: string
  readonly config: Config.ProtocolConfig
  readonly localRoot: object
}

/** A request in flight, made or served. */
interface Call {
  readonly span: Tracer.Span | undefined
  readonly handler: string
  readonly start: bigint
}

const HANDLER_NAMES: ReadonlyArray<string> = (() => {
  const names: Array<string> = []
  for (const [name, id] of Object.entries(Handler)) names[id] = name
  return names
})()

const handlerNameOf = (handler: number): string => HANDLER_NAMES[handler] ?? `#${handler}`

/** Handlers whose second argument is the attribute name they act on. */
const NAMED: ReadonlySet<number> = new Set([
  Handler.GETATTR,
  Handler.SETATTR,
  Handler.DELATTR,
  Handler.CALLATTR,
  Handler.OLDSLICING
])

/** The name a request acts on: the attribute, or (served) the local function called. Never reads a netref. */
const nameOf = (handler: number, args: ReadonlyArray<unknown>, serving: boolean): string | undefined => {
  if (NAMED.has(handler)) return typeof args[1] === "string" ? args[1] : undefined
  if (serving && handler === Handler.CALL) {
    const fn = args[0]
    if (typeof fn === "function" && !Netref.isNetref(fn) && typeof fn.name === "string" && fn.name !== "") {
      return fn.name
    }
  }
  return undefined
}

/** Not worth a span: housekeeping nobody waits for. */
const UNTRACED: ReadonlySet<unknown> = new Set([Handler.DEL, Handler.CLOSE])

const isStopIteration = (outcome: string) => outcome === "StopIteration"

const outcomeOf = (exit: Exit.Exit<unknown, RemoteFailure>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "defect"
  const error = failure.value
  switch (error._tag) {
    case "RemoteError":
      return error.name
    case "RequestTimeout":
      return "timeout"
    case "ConnectionClosed":
      return "closed"
    case "ProtocolError":
      return "protocol_error"
  }
}

/** The class name of a dumped exception, without loading it. */
const vinegarOutcome = (vinegar: unknown): string =>
  vinegar === Message.EXC_STOP_ITERATION
    ? "StopIteration"
    : Array.isArray(vinegar) && Array.isArray(vinegar[0]) && typeof vinegar[0][1] === "string"
    ? vinegar[0][1]
    : "Exception"

const serviceNameOf = (root: object): string | undefined => {
  const get = (root as { readonly exposed_get_service_name?: unknown }).exposed_get_service_name
  if (typeof get !== "function" || Netref.isNetref(root)) return undefined
  try {
    const name = get.call(root)
    return typeof name === "string" ? name : undefined
  } catch {
    return undefined
  }
}

const CLOSED_EXIT = Exit.fail(new ConnectionClosed({ reason: "Closed" }))

/**
 * The telemetry of one connection; the engine calls its hooks.
 *
 * @since 0.1.0 @category models
 */
export class Instrument {
  /** our requests awaiting replies, by seq */
  private readonly calls = new Map<number, Call>()
  /** the peer's requests being handled, by seq */
  private readonly served = new Map<number, Call>()
  /** the serving span while a request is handled synchronously */
  private active: Tracer.Span | undefined
  /** the size of the request just received, for the serving span about to start */
  private requestSize = 0
  private liveNetrefs = 0
  private closed = false
  private readonly attributes: ReadonlyArray<readonly [string, string]>
  private readonly clientTags: ReadonlyArray<MetricLabel.MetricLabel>
  private readonly serverTags: ReadonlyArray<MetricLabel.MetricLabel>
  /** the connection's role: connecting (client) or accepting (server) */
  private readonly ownTags: ReadonlyArray<MetricLabel.MetricLabel>

  constructor(
    conn: Subject,
    role: "client" | "server",
    peer: Peer | undefined,
    private readonly tracer: Tracer.Tracer | undefined,
    private readonly clock: Clock.Clock
  ) {
    const address = peer?.address ?? conn.config.endpoints?.[1]
    const service = peer?.service ?? (role === "server" ? serviceNameOf(conn.localRoot) : undefined)
    const attributes: Array<readonly [string, string]> = [["rpc.system", "rpyc"], [Attributes.connection, conn.id]]
    if (address !== undefined) attributes.push([Attributes.peer, address])
    if (service !== undefined) attributes.push([Attributes.service, service])
    this.attributes = attributes
    const tags = (side: string) =>
      service === undefined
        ? [MetricLabel.make(Attributes.side, side)]
        : [MetricLabel.make(Attributes.side, side), MetricLabel.make(Attributes.service, service)]
    this.clientTags = tags("client")
    this.serverTags = tags("server")
    this.ownTags = role === "client" ? this.clientTags : this.serverTags
  }

  private startSpan(
    kind: "client" | "server",
    handler: string,
    name: string | undefined,
    seq: number,
    parent: Option.Option<Tracer.AnySpan>,
    start: bigint
  ): Tracer.Span | undefined {
    if (this.tracer === undefined) return undefined
    const span = this.tracer.span(
      `rpyc.${kind === "client" ? "call" : "serve"} ${handler}${name === undefined ? "" : ` ${name}`}`,
      parent,
      Context.empty(),
      [],
      start,
      kind
    )
    for (const [key, value] of this.attributes) span.attribute(key, value)
    span.attribute(Attributes.handler, handler)
    if (name !== undefined) span.attribute(Attributes.name, name)
    span.attribute(Attributes.seq, seq)
    return span
  }

  /** The parent of a call: the serving span, the calling fiber's span, or the one request served. */
  private callParent(): Option.Option<Tracer.AnySpan> {
    if (this.active !== undefined) return Option.some(this.active)
    const fiber = Fiber.getCurrentFiber()
    if (Option.isSome(fiber)) {
      const span = Context.getOption(fiber.value.currentContext, Tracer.ParentSpan)
      if (Option.isSome(span)) return span
    }
    return this.only(this.served)
  }

  private only(calls: Map<number, Call>): Option.Option<Tracer.AnySpan> {
    if (calls.size !== 1) return Option.none()
    const [call] = calls.values()
    return Option.fromNullable(call.span)
  }

  private finish(
    call: Call,
    tags: ReadonlyArray<MetricLabel.MetricLabel>,
    outcome: string,
    exit: Exit.Exit<unknown, unknown>
  ): void {
    const end = this.clock.unsafeCurrentTimeNanos()
    if (call.span !== undefined) {
      call.span.attribute(Attributes.outcome, outcome)
      call.span.end(end, exit)
    }
    const handlerTags = [...tags, MetricLabel.make(Attributes.handler, call.handler)]
    const outcomeTags = [...handlerTags, MetricLabel.make(Attributes.outcome, outcome)]
    calls.unsafeUpdate(1, outcomeTags)
    if (outcome !== "success" && !isStopIteration(outcome)) errors.unsafeUpdate(1, outcomeTags)
    duration.unsafeUpdate(Number(end - call.start) / 1e6, handlerTags)
    pending.unsafeModify(-1, tags)
  }

  /**
   * A request of ours is about to be sent as `seq`: starts its span; returns the callback that
   * ends it, to be called with the outcome instead of `onResult`.
   */
  call(
    seq: number,
    handler: number,
    args: ReadonlyArray<unknown>,
    onResult: (exit: Exit.Exit<unknown, RemoteFailure>) => void
  ): (exit: Exit.Exit<unknown, RemoteFailure>) => void {
    const start = this.clock.unsafeCurrentTimeNanos()
    const name = handlerNameOf(handler)
    const call: Call = {
      span: this.startSpan("client", name, nameOf(handler, args, false), seq, this.callParent(), start),
      handler: name,
      start
    }
    this.calls.set(seq, call)
    pending.unsafeModify(1, this.clientTags)
    return (exit) => {
      if (this.calls.get(seq) === call) {
        this.calls.delete(seq)
        const outcome = outcomeOf(exit)
        this.finish(call, this.clientTags, outcome, Exit.isSuccess(exit) || isStopIteration(outcome) ? Exit.void : exit)
      }
      onResult(exit)
    }
  }

  /** The caller of request `seq` stopped waiting (interrupted): its reply will be dropped. */
  abandon(seq: number): void {
    const call = this.calls.get(seq)
    if (call === undefined) return
    this.calls.delete(seq)
    this.finish(call, this.clientTags, "interrupted", Exit.interrupt(FiberId.none))
  }

  /**
   * A request of the peer is about to be handled by `run`: the span of its handling, current while
   * `run` runs; an Effect it returns runs under it.
   */
  serve(seq: number, handler: unknown, args: ReadonlyArray<unknown>, run: () => unknown): unknown {
    // a seq the peer reuses while its first request is still handled: the first keeps the span
    if (typeof handler !== "number" || UNTRACED.has(handler) || this.served.has(seq)) return run()
    const start = this.clock.unsafeCurrentTimeNanos()
    const name = handlerNameOf(handler)
    const span = this.startSpan("server", name, nameOf(handler, args, true), seq, this.only(this.calls), start)
    span?.attribute(Attributes.requestSize, this.requestSize)
    this.served.set(seq, { span, handler: name, start })
    pending.unsafeModify(1, this.serverTags)
    const previous = this.active
    this.active = span
    let result: unknown
    try {
      result = run()
    } finally {
      this.active = previous
    }
    return span !== undefined && Effect.isEffect(result)
      ? Effect.withParentSpan(result as Effect.Effect<unknown, unknown>, span)
      : result
  }

  /** A message was framed: `size` bytes of payload, `wire` bytes on the wire. A reply ends its serving span. */
  sent(msg: Message.MsgType, seq: number, payload: unknown, size: number, wire: number): void {
    bytesSent.unsafeUpdate(wire, this.ownTags)
    if (msg === MsgType.REQUEST) {
      this.calls.get(seq)?.span?.attribute(Attributes.requestSize, size)
      return
    }
    const call = this.served.get(seq)
    if (call === undefined) return
    this.served.delete(seq)
    call.span?.attribute(Attributes.replySize, size)
    if (msg === MsgType.REPLY) return this.finish(call, this.serverTags, "success", Exit.void)
    const outcome = vinegarOutcome(payload)
    this.finish(
      call,
      this.serverTags,
      outcome,
      isStopIteration(outcome) || call.span === undefined ? Exit.void : Exit.fail(loadVinegar(payload))
    )
  }

  /** `bytes` were read from the transport. */
  read(bytes: number): void {
    bytesReceived.unsafeUpdate(bytes, this.ownTags)
  }

  /** A message of `size` bytes was decoded (before it is handled). */
  received(msg: Message.MsgType, seq: number, size: number): void {
    if (msg === MsgType.REQUEST) this.requestSize = size
    else this.calls.get(seq)?.span?.attribute(Attributes.replySize, size)
  }

  /** A netref was made (`1`) or released (`-1`). */
  netref(delta: 1 | -1): void {
    if (this.closed) return
    this.liveNetrefs += delta
    netrefs.unsafeModify(delta, this.ownTags)
  }

  /** The connection is closing: requests still being handled will get no reply, netrefs are gone. */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const call of this.served.values()) this.finish(call, this.serverTags, "closed", CLOSED_EXIT)
    this.served.clear()
    for (const call of this.calls.values()) this.finish(call, this.clientTags, "closed", CLOSED_EXIT)
    this.calls.clear()
    netrefs.unsafeModify(-this.liveNetrefs, this.ownTags)
    this.liveNetrefs = 0
  }
}

const loadVinegar = (vinegar: unknown): unknown => {
  try {
    return Vinegar.load(vinegar)
  } catch (e) {
    return e
  }
}

/**
 * The instrument of a connection made in the current fiber, or `undefined` when telemetry is off.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  conn: Subject,
  options: { readonly side?: "connecting" | "accepting" | undefined; readonly peer?: Peer | undefined }
): Effect.Effect<Instrument | undefined> =>
  Effect.flatMap(FiberRef.get(enabled), (on) => {
    if (!on) return Effect.succeed(undefined)
    return Effect.gen(function*() {
      const tracing = yield* FiberRef.get(FiberRef.currentTracerEnabled)
      const tracer = tracing ? yield* Effect.tracer : undefined
      const clock = yield* Effect.clock
      const role = options.side === "accepting" || (options.side === undefined && conn.config.endpoints !== undefined)
        ? "server"
        : "client"
      return new Instrument(conn, role, options.peer, tracer, clock)
    })
  })
