/**
 * Telemetry through Effect: every remote call is a span, and connections keep Effect metrics.
 *
 * Off by default, at no cost. Provide {@link layer} where connections are made (a server's Layer,
 * a client's program) and each connection made there records:
 *
 * - a span per call it makes, `rpyc.call CALLATTR add` (kind `client`), and per call it serves,
 *   `rpyc.serve CALLATTR add` (kind `server`), with the peer, the service, the handler, the seq, the
 *   request and reply sizes and the outcome as attributes ({@link Attributes}); a callback served
 *   while a call waits nests under that call, and the calls a handler makes nest under its span;
 * - the metrics {@link calls}, {@link errors}, {@link duration}, {@link pending}, {@link netrefs},
 *   {@link bytesSent} and {@link bytesReceived}, tagged with `rpyc.side` and `rpyc.service`.
 *
 * Spans go to the Effect `Tracer` in use and metrics to Effect's metric registry: export both with
 * `@effect/opentelemetry` (`NodeSdk.layer`), as `examples/telemetry/main.ts` does.
 *
 * @since 0.1.0
 */
import * as Layer from "effect/Layer"
import * as Instrument from "./internal/engine/Instrument.js"

/**
 * Whether connections made in this fiber record spans and metrics (default `false`). Read once
 * per connection, when it is made.
 *
 * @since 0.1.0 @category fiber refs
 */
export const enabled = Instrument.enabled

/**
 * Turns telemetry on for the connections made where it is provided.
 *
 * @example
 * ```ts
 * import { NodeSdk } from "@effect/opentelemetry"
 * import { Server, Telemetry } from "effect-rpyc"
 *
 * const ServerLive = Server.layer(CalcService, { port: 18861 }).pipe(
 *   Layer.provide(Telemetry.layer),
 *   Layer.provide(NodeSdk.layer(() => ({ resource: { serviceName: "calc" }, spanProcessor })))
 * )
 * ```
 *
 * @since 0.1.0 @category layers
 */
export const layer: Layer.Layer<never> = Layer.locallyScoped(Instrument.enabled, true)

/**
 * The span attributes and metric tags.
 *
 * @since 0.1.0 @category constants
 */
export const Attributes = Instrument.Attributes

/**
 * Remote calls made (`rpyc.side` = `client`) and served (`server`), tagged by `rpyc.handler` and
 * `rpyc.outcome` (`success`, a remote exception's class name, `timeout`, `closed`, `interrupted`).
 *
 * @since 0.1.0 @category metrics
 */
export const calls = Instrument.calls

/**
 * The calls that failed (every outcome but `success` and `StopIteration`), tagged as {@link calls}.
 *
 * @since 0.1.0 @category metrics
 */
export const errors = Instrument.errors

/**
 * Call latency in milliseconds, by `rpyc.handler`.
 *
 * @since 0.1.0 @category metrics
 */
export const duration = Instrument.duration

/**
 * Requests in flight: made and awaiting their reply (`client`), or being handled (`server`).
 *
 * @since 0.1.0 @category metrics
 */
export const pending = Instrument.pending

/**
 * Live netrefs to the peers' objects, by the connection's role (`client`: connections this
 * process made, `server`: connections it accepted).
 *
 * @since 0.1.0 @category metrics
 */
export const netrefs = Instrument.netrefs

/**
 * Bytes written to peers, by the connection's role.
 *
 * @since 0.1.0 @category metrics
 */
export const bytesSent = Instrument.bytesSent

/**
 * Bytes read from peers, by the connection's role.
 *
 * @since 0.1.0 @category metrics
 */
export const bytesReceived = Instrument.bytesReceived
