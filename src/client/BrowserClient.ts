/**
 * Connecting from a browser: RPyC over a WebSocket, opened with the browser's own `WebSocket`
 * (`@effect/platform-browser`). Reach a Python RPyC server through `rpyc-gateway`, or a TS server
 * listening for WebSockets. Frames travel in binary messages, one frame per message (PROTOCOL.md
 * §7.5); frames are sent raw, and compressed frames from the peer are inflated in JavaScript.
 *
 * Nothing can be probed over a WebSocket: `wireVersion` `"auto"` (the default) means 5 (Python
 * RPyC 5.x); give `6` for an RPyC 6 server.
 *
 * @since 0.1.0
 */
import * as BrowserSocket from "@effect/platform-browser/BrowserSocket"
import type * as Socket from "@effect/platform/Socket"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ConnectionClosed } from "../internal/base/Errors.js"
import type * as Connection from "../internal/engine/Engine.js"
import * as WebSocket from "../transport/WebSocket.js"
import * as SocketClient from "./SocketClient.js"

/**
 * Options of {@link connectWebSocket}: the connection's (`service`, `config`, `wireVersion`,
 * `maxFrameSize`) and the WebSocket's (`protocols`, `openTimeout`, `maxBufferedBytes`).
 *
 * @since 0.1.0 @category models
 */
export interface WebSocketConnectOptions extends SocketClient.ConnectionOptions, WebSocket.ConnectOptions {}

/**
 * Connects over a WebSocket (`ws://` or `wss://`) with the browser's `WebSocket`. A refused
 * connection or upgrade fails with `WebSocket.ConnectError` naming the URL (without its query, which
 * may carry a token); the connection lives until the scope closes.
 *
 * ```ts
 * const conn = yield* BrowserClient.connectWebSocket("ws://127.0.0.1:8080/python")
 * const answer = yield* conn.root.get_answer()
 * ```
 *
 * @since 0.1.0 @category constructors
 */
export const connectWebSocket = <Api = any>(
  url: string,
  options: WebSocketConnectOptions = {}
): Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  WebSocket.connect(url, options).pipe(
    Effect.flatMap((socket) => SocketClient.connectSocket<Api>(socket, options)),
    Effect.provide(BrowserSocket.layerWebSocketConstructor)
  )
