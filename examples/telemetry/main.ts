/**
 * Telemetry: the spans and metrics of RPyC calls, exported by OpenTelemetry to the console.
 *
 *   npx tsx examples/telemetry/main.ts
 *
 * A server and a client run in this process (127.0.0.1, a port the OS picks) with `Telemetry.layer`
 * on and `@effect/opentelemetry`'s `NodeSdk` exporting to the console. The client calls `add`, then
 * `apply(double, 21)`: the server calls `double` back on the client while the client waits, then
 * asks for a method that is not there. The ConsoleSpanExporter prints each span as it ends, an
 * outline of the traces follows, and the ConsoleMetricExporter prints the metrics on exit.
 */
import { NodeSdk } from "@effect/opentelemetry"
import { NodeRuntime } from "@effect/platform-node"
import { ConsoleMetricExporter, PeriodicExportingMetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics"
import {
  ConsoleSpanExporter,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import { Client, Server, Service, Telemetry } from "effect-rpyc"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

class CalcService extends Service {
  exposed_add(a: number, b: number) {
    return a + b
  }
  /** Calls `f` back on the caller's side: its span nests under this call's span. */
  async exposed_apply(f: (x: number) => PromiseLike<number>, x: number) {
    return (await f(x)) + 1
  }
}

/** Kept as well, to print the outline of the traces at the end. */
const memory = new InMemorySpanExporter()

/** The console exporter, showing only this package's metrics (Effect's own fiber metrics are exported too). */
class RpycMetricsToConsole extends ConsoleMetricExporter {
  override export(metrics: ResourceMetrics, done: Parameters<ConsoleMetricExporter["export"]>[1]): void {
    const scopeMetrics = metrics.scopeMetrics.map((scope) => ({
      ...scope,
      metrics: scope.metrics.filter((metric) => metric.descriptor.name.startsWith("rpyc."))
    }))
    super.export({ ...metrics, scopeMetrics }, done)
  }
}

const OpenTelemetry = NodeSdk.layer(() => ({
  resource: { serviceName: "effect-rpyc-example" },
  spanProcessor: [new SimpleSpanProcessor(new ConsoleSpanExporter()), new SimpleSpanProcessor(memory)],
  // exported once, when the program ends (the reader's shutdown flushes it)
  metricReader: new PeriodicExportingMetricReader({
    exporter: new RpycMetricsToConsole(),
    exportIntervalMillis: 60_000
  })
}))

/** Each span under its parent, in the order they started, with their outcome. */
const outline = (spans: ReadonlyArray<ReadableSpan>): string => {
  const ids = new Set(spans.map((s) => s.spanContext().spanId))
  const parentOf = (s: ReadableSpan) => {
    const id = s.parentSpanContext?.spanId
    return id !== undefined && ids.has(id) ? id : undefined
  }
  const started = [...spans].sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])
  const lines: Array<string> = []
  const walk = (parent: string | undefined, depth: number) => {
    for (const span of started.filter((s) => parentOf(s) === parent)) {
      const outcome = span.attributes[Telemetry.Attributes.outcome]
      lines.push(`${"  ".repeat(depth)}${span.name}${outcome === undefined ? "" : ` [${outcome}]`}`)
      walk(span.spanContext().spanId, depth + 1)
    }
  }
  walk(undefined, 0)
  return lines.join("\n")
}

const calls = Effect.gen(function*() {
  const server = yield* Server.make(CalcService, { host: "127.0.0.1", port: 0 })
  const conn = yield* Client.connect({ host: "127.0.0.1", port: server.port!, wireVersion: 6 })
  yield* Console.log(`add(2, 3) = ${yield* conn.root.add(2, 3)}`)
  const double = (x: number) => x * 2
  yield* Console.log(`apply(double, 21) = ${yield* conn.root.apply(double, 21)}`)
  const missing = yield* Effect.flip(conn.root.subtract(5, 3))
  yield* Console.log(`subtract(5, 3) -> ${missing.name}`)
}).pipe(Effect.withSpan("example"), Effect.scoped)

const main = Effect.gen(function*() {
  yield* calls
  yield* Console.log(`\ntraces:\n${outline(memory.getFinishedSpans())}\n`)
}).pipe(Effect.provide(Layer.merge(Telemetry.layer, OpenTelemetry)))

NodeRuntime.runMain(main)
