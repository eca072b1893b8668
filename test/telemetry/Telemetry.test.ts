/**
 * Telemetry: the spans of calls between a TS client and a TS server in this process, exported by
 * OpenTelemetry's SDK (through @effect/opentelemetry) to an in-memory exporter — a call with a
 * nested callback (a Promise handler and an Effect handler), a remote exception, a timeout and a
 * connection closed under a served request — and no spans at all when telemetry is off.
 */
import { NodeSdk } from "@effect/opentelemetry"
import { assert, describe, it } from "@effect/vitest"
import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Client from "../../src/client/Client.js"
import { Service } from "../../src/service/Service.js"
import * as Telemetry from "../../src/Telemetry.js"
import { TIMEOUT } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { connect, pythonClassic, remote, serve } from "../support/Peers.js"
import { describePython } from "../support/Python.js"

/** A service whose methods call back the function they are given. */
class TracedService extends Service {
  static override ALIASES = ["TRACED"]
  exposed_add(a: number, b: number) {
    return a + b
  }
  /** A Promise handler: the callback is awaited in an async continuation, outside any fiber. */
  async exposed_apply(f: (x: number) => PromiseLike<number>, x: number) {
    return (await f(x)) * 2
  }
  /** An Effect handler: the callback runs in the handler's fiber. */
  exposed_applyEffect(f: (x: number) => unknown, x: number) {
    return Effect.map(remote<number>(f(x)), (y) => y + 1)
  }
  exposed_fail(): never {
    throw new RangeError("no such thing")
  }
  exposed_never() {
    return new Promise(() => {})
  }
}

const quiet = Logger.withMinimumLogLevel(LogLevel.Warning)

/** An OpenTelemetry tracer exporting to `exporter`, with telemetry on or off. */
const tracing = (exporter: InMemorySpanExporter, on: boolean) => {
  const sdk = NodeSdk.layer(() => ({
    resource: { serviceName: "effect-rpyc-test" },
    spanProcessor: new SimpleSpanProcessor(exporter)
  }))
  return on ? Layer.merge(sdk, Telemetry.layer) : sdk
}

/** A server and a client connected to it (v5, no probe connection). */
const peers = Effect.gen(function*() {
  const server = yield* serve(TracedService).pipe(quiet)
  const conn = yield* connect(server.port!)
  return { server, conn }
})

const named = (spans: ReadonlyArray<ReadableSpan>, name: string): ReadableSpan => {
  const found = spans.filter((s) => s.name === name)
  assert.strictEqual(found.length, 1, `one span ${name} in ${spans.map((s) => s.name).join(", ")}`)
  return found[0]!
}

/** Waits until every span of `names` has ended, and returns them by name. */
const spansOf = (exporter: InMemorySpanExporter, names: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* eventually(
      () => names.every((name) => exporter.getFinishedSpans().some((s) => s.name === name)),
      `spans ${names.join(", ")} ended`
    )
    const spans = exporter.getFinishedSpans()
    return Object.fromEntries(names.map((name) => [name, named(spans, name)]))
  })

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId
const idOf = (span: ReadableSpan) => span.spanContext().spanId

describe("telemetry spans", () => {
  it.scopedLive("a call with a nested callback (Promise handler): client call ⊃ callback served; serve ⊃ callback call", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      const { conn, server } = yield* peers
      const double = (x: number) => x * 2
      const result = yield* remote(conn.root.apply(double, 21)).pipe(Effect.withSpan("app"))
      assert.strictEqual(result, 84)
      const spans = yield* spansOf(exporter, [
        "app",
        "rpyc.call CALLATTR apply",
        "rpyc.serve CALLATTR apply",
        "rpyc.call CALL",
        "rpyc.serve CALL double"
      ])
      const app = spans["app"]!
      const call = spans["rpyc.call CALLATTR apply"]!
      const serve = spans["rpyc.serve CALLATTR apply"]!
      const callback = spans["rpyc.call CALL"]!
      const served = spans["rpyc.serve CALL double"]!

      // client side: the app's span ⊃ its call ⊃ the callback it served while waiting
      assert.strictEqual(parentOf(call), idOf(app))
      assert.strictEqual(parentOf(served), idOf(call))
      // server side: the serving span ⊃ the call back to the client
      assert.strictEqual(parentOf(callback), idOf(serve))
      assert.strictEqual(call.kind, SpanKind.CLIENT)
      assert.strictEqual(serve.kind, SpanKind.SERVER)
      assert.strictEqual(callback.kind, SpanKind.CLIENT)
      assert.strictEqual(served.kind, SpanKind.SERVER)

      const a = call.attributes
      assert.strictEqual(a[Telemetry.Attributes.handler], "CALLATTR")
      assert.strictEqual(a[Telemetry.Attributes.name], "apply")
      assert.strictEqual(a[Telemetry.Attributes.peer], `127.0.0.1:${server.port}`)
      assert.strictEqual(a[Telemetry.Attributes.outcome], "success")
      assert.strictEqual(typeof a[Telemetry.Attributes.seq], "number")
      assert.isAbove(a[Telemetry.Attributes.requestSize] as number, 0)
      assert.isAbove(a[Telemetry.Attributes.replySize] as number, 0)
      assert.strictEqual(call.status.code, SpanStatusCode.OK)

      const s = serve.attributes
      assert.strictEqual(s[Telemetry.Attributes.service], "TRACED")
      assert.match(String(s[Telemetry.Attributes.peer]), /^127\.0\.0\.1:\d+$/)
      assert.strictEqual(s[Telemetry.Attributes.seq], a[Telemetry.Attributes.seq])
      // what one side sent is what the other received
      assert.strictEqual(s[Telemetry.Attributes.requestSize], a[Telemetry.Attributes.requestSize])
      assert.strictEqual(s[Telemetry.Attributes.replySize], a[Telemetry.Attributes.replySize])
      assert.strictEqual(s[Telemetry.Attributes.outcome], "success")
      assert.strictEqual(callback.attributes[Telemetry.Attributes.service], "TRACED")
      assert.strictEqual(served.attributes[Telemetry.Attributes.outcome], "success")
    }).pipe(Effect.scoped, Effect.provide(tracing(exporter, true)))
  })

  it.scopedLive("an Effect handler's callback nests under the serving span", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      const { conn } = yield* peers
      assert.strictEqual(yield* remote(conn.root.applyEffect((x: number) => x * 10, 4)), 41)
      const spans = yield* spansOf(exporter, [
        "rpyc.call CALLATTR applyEffect",
        "rpyc.serve CALLATTR applyEffect",
        "rpyc.call CALL",
        // an anonymous function: no name to show
        "rpyc.serve CALL"
      ])
      assert.strictEqual(parentOf(spans["rpyc.call CALL"]!), idOf(spans["rpyc.serve CALLATTR applyEffect"]!))
      assert.strictEqual(parentOf(spans["rpyc.serve CALL"]!), idOf(spans["rpyc.call CALLATTR applyEffect"]!))
    }).pipe(Effect.scoped, Effect.provide(tracing(exporter, true)))
  })

  it.scopedLive("a remote exception: its class is the outcome of both spans, which fail", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      const { conn } = yield* peers
      const error = yield* Effect.flip(remote(conn.root.fail()))
      assert.strictEqual(error._tag, "RemoteError")
      const spans = yield* spansOf(exporter, ["rpyc.call CALLATTR fail", "rpyc.serve CALLATTR fail"])
      for (const span of Object.values(spans)) {
        assert.strictEqual(span.attributes[Telemetry.Attributes.outcome], "ValueError")
        assert.strictEqual(span.status.code, SpanStatusCode.ERROR)
      }
      assert.match(spans["rpyc.call CALLATTR fail"]!.status.message ?? "", /no such thing/)
    }).pipe(Effect.scoped, Effect.provide(tracing(exporter, true)))
  })

  it.scopedLive("a timed-out call ends as timeout; the request still served when the connection closes, as closed", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      const { conn } = yield* peers
      const root = yield* remote(conn.root)
      const error = yield* Effect.flip(conn.request(8, [root, "never", [], []], { timeout: "100 millis" }))
      assert.strictEqual(error._tag, "RequestTimeout")
      const { "rpyc.call CALLATTR never": call } = yield* spansOf(exporter, ["rpyc.call CALLATTR never"])
      assert.strictEqual(call!.attributes[Telemetry.Attributes.outcome], "timeout")
      yield* conn.close()
      const { "rpyc.serve CALLATTR never": serve } = yield* spansOf(exporter, ["rpyc.serve CALLATTR never"])
      assert.strictEqual(serve!.attributes[Telemetry.Attributes.outcome], "closed")
    }).pipe(Effect.scoped, Effect.provide(tracing(exporter, true)))
  })

  it.scopedLive("telemetry off: the same calls make no spans", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      const { conn } = yield* peers
      const result = yield* remote(conn.root.apply((x: number) => x + 1, 1)).pipe(Effect.withSpan("app"))
      assert.strictEqual(result, 4)
      yield* Effect.flip(remote(conn.root.fail()))
      // the app's own span is exported: the tracer works, the connections just made none
      yield* spansOf(exporter, ["app"])
      assert.deepStrictEqual(exporter.getFinishedSpans().map((s) => s.name), ["app"])
    }).pipe(Effect.scoped, Effect.provide(tracing(exporter, false)))
  })
})

describePython("telemetry spans against Python rpyc_classic", () => {
  it.scopedLive(
    "a Python function calling back: the callback served nests under the call; a Python exception's class is the outcome",
    () => {
      const exporter = new InMemorySpanExporter()
      return Effect.gen(function*() {
        const { port } = yield* pythonClassic
        const conn = yield* Client.connect({ host: "127.0.0.1", port })
        const apply = yield* remote(conn.root.eval("lambda f, x: f(x) + 1"))
        const double = (x: number) => x * 2
        assert.strictEqual(yield* remote(apply(double, 20)).pipe(Effect.withSpan("app")), 41)
        const spans = yield* spansOf(exporter, ["app", "rpyc.call CALL", "rpyc.serve CALL double"])
        assert.strictEqual(parentOf(spans["rpyc.call CALL"]!), idOf(spans["app"]!))
        assert.strictEqual(parentOf(spans["rpyc.serve CALL double"]!), idOf(spans["rpyc.call CALL"]!))
        assert.strictEqual(spans["rpyc.call CALL"]!.attributes[Telemetry.Attributes.peer], `127.0.0.1:${port}`)

        yield* Effect.flip(remote(conn.root.eval("1/0")))
        const eval_ = exporter.getFinishedSpans().filter((s) => s.name === "rpyc.call CALLATTR eval")
        assert.deepStrictEqual(eval_.map((s) => s.attributes[Telemetry.Attributes.outcome]), [
          "success",
          "ZeroDivisionError"
        ])
      }).pipe(Effect.scoped, Effect.provide(tracing(exporter, true)))
    },
    TIMEOUT
  )
})
