/**
 * effect-rpyc: RPyC's transparent, symmetric remote objects for TypeScript, on Effect, speaking
 * RPyC's own wire protocol.
 *
 * Two ways in:
 * - **Scripts**: `await rpyc.connect("localhost", 18861)`, `await conn.root.get_answer()`,
 *   `await conn.close()`; `new ThreadedServer(MyService, { port }).start()`.
 * - **Effect apps**: the namespaces (`Client.connect`, `Server.layer`, `Connection`, …) give scoped
 *   Effects and Layers with typed errors.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { runPromise } from "./Awaitable.js"
import * as Client from "./client/Client.js"
import * as ReconnectingClient from "./client/Reconnecting.js"
import * as Logging from "./Logging.js"
import * as Connection from "./protocol/Connection.js"
import type * as Registry from "./registry/Registry.js"
import * as RegistryClient from "./registry/RegistryClient.js"

export * as classic from "./classic/index.js"
export * as Client from "./client/Client.js"
export * as Reconnecting from "./client/Reconnecting.js"
export * as Selection from "./client/Selection.js"
export * as Transports from "./client/Transports.js"
export * as Registry from "./registry/Registry.js"
export * as RegistryClient from "./registry/RegistryClient.js"
// RedisRegistry stays out of the entry: importing it loads ioredis (RegistryClient.layerRedis loads it on use)
export * as RegistryServer from "./registry/RegistryServer.js"
export * as Forking from "./server/Forking.js"
export * as OneShot from "./server/OneShot.js"
export * as Pool from "./server/Pool.js"
export * as Server from "./server/Server.js"
export * as StdioServer from "./server/StdioServer.js"
export * as Telemetry from "./Telemetry.js"
// the exports that run anywhere, shared with the browser entry
export * from "./portable.js"

export { ClassicService } from "./classic/ClassicService.js"
export { ThreadedServer, type ThreadedServerOptions } from "./server/Server.js"

/** Runs a connection for a script, logging as `options` say (`Logging.layerScript`). */
const own = <C extends Connection.Connection<any>, E>(
  options: Logging.ScriptOptions,
  connect: Effect.Effect<C, E, Scope.Scope>
): Promise<C> => Connection.runOwned(Effect.provide(connect, Logging.layerScript(options)))

/**
 * Options of {@link connect}: `Client.ConnectOptions` without the address, and how the script logs
 * (`logLevel`, default `"warning"`; `rpycLogs: false` silences the library).
 *
 * @since 0.1.0 @category scripts
 */
export interface ScriptConnectOptions extends Omit<Client.ConnectOptions, "host" | "port">, Logging.ScriptOptions {}

/**
 * Connects to an RPyC server over TCP (RPyC's `rpyc.connect`). The server's dialect (RPyC 5.x or
 * 6.x) is probed once per endpoint unless `wireVersion` is given; a server that cannot be reached
 * rejects with an error naming the address and the OS reason (`Tcp.ConnectError`).
 *
 * ```ts
 * const conn = await rpyc.connect("localhost", 18861)
 * console.log(await conn.root.get_answer())
 * await conn.close()
 * ```
 *
 * @since 0.1.0 @category scripts
 */
export const connect = <Api = any>(
  host: string,
  port: number,
  options: ScriptConnectOptions = {}
): Promise<Connection.Connection<Api>> => own(options, Client.connect<Api>({ ...options, host, port }))

/**
 * Options of {@link connectWebSocket}: `Client.WebSocketConnectOptions` and how the script logs.
 *
 * @since 0.1.0 @category scripts
 */
export interface ScriptWebSocketOptions extends Client.WebSocketConnectOptions, Logging.ScriptOptions {}

/**
 * Connects over WebSocket (`ws://` or `wss://`): to a TS server made with `Server.makeWebSocket`, or
 * through `rpyc-gateway` to any RPyC server (Python's included).
 *
 * ```ts
 * const conn = await rpyc.connectWebSocket("ws://127.0.0.1:8765/rpyc/lab")
 * console.log(await conn.root.get_answer())
 * ```
 *
 * @since 0.1.0 @category scripts
 */
export const connectWebSocket = <Api = any>(
  url: string,
  options: ScriptWebSocketOptions = {}
): Promise<Connection.Connection<Api>> => own(options, Client.connectWebSocket<Api>(url, options))

/**
 * A UDP registrar for scripts (RPyC's `UDPRegistryClient`): broadcast to 255.255.255.255 by
 * default; pass `{ host: "127.0.0.1" }` for a registry on this machine.
 *
 * @since 0.1.0 @category scripts
 */
export const UDPRegistryClient = (options: RegistryClient.UdpOptions = {}): RegistryClient.Registrar =>
  Effect.runSync(RegistryClient.makeUdp(options))

/**
 * A TCP registrar for scripts (RPyC's `TCPRegistryClient`).
 *
 * @since 0.1.0 @category scripts
 */
export const TCPRegistryClient = (options: RegistryClient.TcpOptions): RegistryClient.Registrar =>
  Effect.runSync(RegistryClient.makeTcp(options))

/** @since 0.1.0 @category scripts */
export interface DiscoveryOptions {
  /** The registrar to ask (default: UDP broadcast, as RPyC). */
  readonly registrar?: RegistryClient.Registrar | undefined
  /** Keep only servers on this host. */
  readonly host?: string | undefined
}

const withRegistrar = <A, E, R>(
  registrar: RegistryClient.Registrar | undefined,
  effect: Effect.Effect<A, E, R | RegistryClient.Registrar>
): Effect.Effect<A, E, Exclude<R, RegistryClient.Registrar>> =>
  Effect.provideServiceEffect(
    effect,
    RegistryClient.Registrar,
    registrar !== undefined ? Effect.succeed(registrar) : RegistryClient.makeUdp()
  ) as Effect.Effect<A, E, Exclude<R, RegistryClient.Registrar>>

/**
 * The addresses of a service's servers (RPyC's `rpyc.discover`).
 *
 * @since 0.1.0 @category scripts
 */
export const discover = (name: string, options: DiscoveryOptions = {}): Promise<ReadonlyArray<Registry.Address>> =>
  runPromise(withRegistrar(options.registrar, RegistryClient.discover(name, { host: options.host })))

/**
 * Connects to a reachable server of a service, chosen by `strategy` (RPyC's `rpyc.connect_by_service`).
 *
 * @since 0.1.0 @category scripts
 */
export const connectByService = <Api = any>(
  name: string,
  options: DiscoveryOptions & Client.ConnectByServiceOptions & Logging.ScriptOptions = {}
): Promise<Connection.Connection<Api>> =>
  own(options, withRegistrar(options.registrar, Client.connectByService<Api>(name, options)))

/**
 * The registered service names (RPyC's `rpyc.list_services`); `ForbiddenError` when the registry
 * has listing disabled.
 *
 * @since 0.1.0 @category scripts
 */
export const listServices = (
  options: { readonly registrar?: RegistryClient.Registrar | undefined; readonly filterHost?: string | undefined } = {}
): Promise<ReadonlyArray<string>> =>
  runPromise(withRegistrar(options.registrar, RegistryClient.listServices(options.filterHost)))

/**
 * Options of {@link reconnecting}: `Reconnecting.Options` without the address, and how the script
 * logs.
 *
 * @since 0.1.0 @category scripts
 */
export type ScriptReconnectingOptions =
  & Omit<Extract<ReconnectingClient.Options, { readonly port: number }>, "host" | "port">
  & Logging.ScriptOptions

/**
 * A client that reconnects when its server restarts (`Reconnecting.make` for scripts): calls run on
 * the connection of the moment and reject with `Disconnected` while there is none (or wait, with
 * `queue`); netrefs of a lost connection reject with `StaleReference`.
 *
 * ```ts
 * const client = await rpyc.reconnecting("localhost", 18861, { queue: 100 })
 * await client.ready
 * console.log(await client.call("get_answer"))
 * await client.close()
 * ```
 *
 * @since 0.1.0 @category scripts
 */
export const reconnecting = <Api = any>(
  host: string,
  port: number,
  options: ScriptReconnectingOptions = {}
): Promise<ReconnectingClient.ScriptClient<Api>> => ReconnectingClient.runScript<Api>({ ...options, host, port })
