/**
 * Serving one connection over this process's stdin/stdout, inetd style (`rpyc_classic -m stdio`,
 * PROTOCOL.md §9.1): the server side of `connectSubproc`.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as Effect from "effect/Effect"
import type { ConnectionClosed } from "../internal/base/Errors.js"
import * as Service from "../service/Service.js"
import * as Stdio from "../transport/Stdio.js"
import type * as Server from "./Server.js"

/**
 * Options of {@link serve}.
 *
 * @since 0.1.0 @category models
 */
export interface Options extends Server.ServeOptions {}

/**
 * Serves one connection over this process's stdin (incoming) and stdout (outgoing). Resolves when the
 * connection closes (the client closed it or stdin reached EOF). From the first call on,
 * `process.stdout.write` — and so `console.log` — goes to stderr for the rest of the process's life,
 * so user output cannot corrupt the frames (see `Stdio.fromProcessStdio`). Call it once per process.
 *
 * @since 0.1.0 @category constructors
 */
export const serve = (
  service: Service.ServiceSpec,
  options: Options = {}
): Effect.Effect<void, Socket.SocketError | ConnectionClosed> =>
  Effect.gen(function*() {
    const socket = yield* Stdio.fromProcessStdio()
    const conn = yield* Service.makeConnection(socket, service, {
      config: { ...options.protocolConfig, endpoints: ["stdio", "stdio"] as const },
      wireVersion: options.wireVersion ?? "auto",
      maxFrameSize: options.maxFrameSize
    })
    yield* Effect.logDebug("serving over stdio")
    yield* conn.awaitClose
  }).pipe(Effect.scoped)
