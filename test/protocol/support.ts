/**
 * Helpers of the engine tests: log capture, deadlines and timing, and an in-memory Socket pair (for
 * tests driven by the TestClock). Polling (`eventually`) and raw TCP peers (`connectRaw`,
 * `rawServer`) are test/support's.
 */
import * as Socket from "@effect/platform/Socket"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { ProtocolError } from "../../src/internal/base/Errors.js"

// ---------------------------------------------------------------------------------------------
// logs

export interface LogEntry {
  readonly level: string
  /** the raw message items (`Effect.log(a, b)` logs `[a, b]`) */
  readonly items: ReadonlyArray<unknown>
  /** a flat rendering of the items and the cause */
  readonly text: string
}

const renderItem = (u: unknown): string => {
  if (u instanceof ProtocolError) return `ProtocolError(${u.reason}): ${u.detail}`
  if (u instanceof Error) return `${u.name}: ${u.message}`
  if (typeof u === "object" && u !== null && "_tag" in u) {
    try {
      return JSON.stringify(u)
    } catch {
      return String((u as { _tag: unknown })._tag)
    }
  }
  return String(u)
}

export interface LogCapture {
  readonly entries: ReadonlyArray<LogEntry>
  /** Replaces the default logger with the capturing one (also keeps test output quiet). */
  readonly layer: Layer.Layer<never>
  /** The ProtocolErrors found in log entries. */
  readonly protocolErrors: () => ReadonlyArray<ProtocolError>
}

export const captureLogs = (): LogCapture => {
  const entries: Array<LogEntry> = []
  const logger = Logger.make(({ cause, logLevel, message }) => {
    const items = Array.isArray(message) ? message : [message]
    const causeText = Cause.isEmpty(cause) ? "" : ` ${Cause.pretty(cause)}`
    entries.push({ level: logLevel.label, items, text: items.map(renderItem).join(" ") + causeText })
  })
  return {
    entries,
    layer: Logger.replace(Logger.defaultLogger, logger),
    protocolErrors: () => entries.flatMap((e) => e.items.filter((i): i is ProtocolError => i instanceof ProtocolError))
  }
}

// ---------------------------------------------------------------------------------------------
// deadlines

/** Fails the test (instead of hanging until the vitest timeout) if `effect` takes too long. */
export const within = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  what: string,
  timeout: Duration.DurationInput = "5 seconds"
): Effect.Effect<A, E, R> =>
  Effect.flatten(
    Effect.timeoutTo(effect, {
      duration: timeout,
      onSuccess: (a): Effect.Effect<A> => Effect.succeed(a),
      onTimeout: (): Effect.Effect<A> => Effect.dieMessage(`timed out after ${Duration.format(timeout)}: ${what}`)
    })
  )

/** Milliseconds taken by `effect` (real clock). */
export const timed = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<readonly [A, number], E, R> =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.map(effect, (a) => [a, performance.now() - start] as const)
  })

// ---------------------------------------------------------------------------------------------
// in-memory sockets

/**
 * Two connected in-memory `Socket`s: what one writes, the other's `run` handler receives. Closing
 * a side's writer (its scope) ends the other side's `run`, like a FIN. No timers are involved, so
 * it works under the TestClock.
 */
export const memorySocketPair = (): Effect.Effect<readonly [Socket.Socket, Socket.Socket], never, Scope.Scope> =>
  Effect.gen(function*() {
    const aIn = yield* Queue.unbounded<Uint8Array | null>()
    const bIn = yield* Queue.unbounded<Uint8Array | null>()
    yield* Effect.addFinalizer(() => Effect.all([Queue.shutdown(aIn), Queue.shutdown(bIn)]))
    return [memorySocket(aIn, bIn), memorySocket(bIn, aIn)] as const
  })

const memorySocket = (
  inbound: Queue.Queue<Uint8Array | null>,
  outbound: Queue.Queue<Uint8Array | null>
): Socket.Socket => {
  const run = <_, E, R>(
    handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
    options?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> =>
    Effect.gen(function*() {
      if (options?.onOpen !== undefined) yield* options.onOpen
      while (true) {
        const chunk = yield* Queue.take(inbound)
        if (chunk === null) return
        const result = handler(chunk)
        if (Effect.isEffect(result)) yield* result
      }
    })
  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Socket.isCloseEvent(chunk)
      ? Effect.asVoid(Queue.offer(outbound, null))
      : Effect.asVoid(Queue.offer(outbound, typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk))
  return {
    [Socket.TypeId]: Socket.TypeId,
    run,
    runRaw: run as Socket.Socket["runRaw"],
    writer: Effect.acquireRelease(Effect.succeed(write), () => Effect.asVoid(Queue.offer(outbound, null)))
  }
}
