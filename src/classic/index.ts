/**
 * The `classic` namespace of the package (`rpyc.classic.*`, as RPyC's `rpyc.classic`): the TCP
 * client and its connection shape (`Classic`), the other transports (`Transports`: Unix socket,
 * TLS, stdio, subprocess, in-process), the remoting helpers, teleport and `ClassicService`.
 *
 * ```ts
 * import * as rpyc from "effect-rpyc"
 * const c = await rpyc.classic.connect("localhost")
 * const t = await rpyc.classic.connectThread()
 * ```
 *
 * @since 0.1.0
 */
export * from "./Classic.js"
export * from "./Transports.js"
