/**
 * effect-rpyc in the browser: the client, netrefs, async operations and services, over a WebSocket
 * (`import * as rpyc from "effect-rpyc/browser"`). Nothing here reaches a `node:` module or a Node
 * global; `npm run build:browser` bundles it into one minified ES module and checks that.
 *
 * - **Scripts**: `const conn = await rpyc.connectWebSocket("ws://127.0.0.1:8080/python")`, then
 *   `await conn.root.get_answer()` and `await conn.close()`.
 * - **Effect apps**: `BrowserClient.connectWebSocket(url)` is a scoped Effect with typed errors.
 *
 * A Python RPyC server is reached through `rpyc-gateway`, which bridges WebSockets to TCP.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as BrowserClient from "./client/BrowserClient.js"
import * as Logging from "./Logging.js"
import * as Connection from "./protocol/Connection.js"

export * as BrowserClient from "./client/BrowserClient.js"
export * from "./portable.js"

/**
 * Options of {@link connectWebSocket}: `BrowserClient.WebSocketConnectOptions` and how the script
 * logs to the console (`logLevel`, default `"warning"`; `rpycLogs: false` silences the library).
 *
 * @since 0.1.0 @category scripts
 */
export interface ScriptWebSocketOptions extends BrowserClient.WebSocketConnectOptions, Logging.ScriptOptions {}

/**
 * Connects over a WebSocket for a script or a page: to `rpyc-gateway` (which bridges to a Python or
 * TS RPyC server over TCP) or to a TS server listening for WebSockets. The connection lives until
 * `conn.close()`; a connection that cannot be opened rejects with an error naming the URL.
 *
 * ```ts
 * const conn = await rpyc.connectWebSocket("ws://127.0.0.1:8080/python")
 * console.log(await conn.root.get_answer())
 * await conn.close()
 * ```
 *
 * @since 0.1.0 @category scripts
 */
export const connectWebSocket = <Api = any>(
  url: string,
  options: ScriptWebSocketOptions = {}
): Promise<Connection.Connection<Api>> =>
  Connection.runOwned(
    Effect.provide(BrowserClient.connectWebSocket<Api>(url, options), Logging.layerScript(options))
  )
