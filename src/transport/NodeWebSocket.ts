/**
 * The WebSocket implementation of Node clients: a `Socket.WebSocketConstructor` backed by the `ws`
 * package (Node 20 has no global WebSocket), with what browsers cannot set: the CA to trust for
 * `wss://` (a private or self-signed CA), a client certificate, request headers (an
 * `Authorization` header) and a message size limit. `WebSocket.connect` takes it from the context.
 *
 * `wss://` defaults follow the web, not RPyC's `ssl_connect`: the server certificate is verified
 * (against `ca` when given, Node's bundled roots otherwise) and must match the host name.
 *
 * `ws` is loaded when a constructor is made, not when this module is: a program that never opens
 * a WebSocket does not need it.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as WS from "ws"
import * as Tls from "./Tls.js"

/**
 * Options of {@link makeConstructor}: TLS key material as `Tls.Credentials` (PEM contents or file
 * names), for `wss://` only.
 *
 * @since 0.1.0 @category models
 */
export interface ConstructorOptions extends Tls.Credentials {
  /** Verify the server certificate of a `wss://` URL; default true. */
  readonly verify?: boolean | undefined
  /** Also check that it matches the URL's host; default true. */
  readonly checkHostname?: boolean | undefined
  /** Request headers sent with the upgrade, e.g. `{ authorization: "Bearer …" }`. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Largest message accepted from the server (default 100 MiB, `ws`'s own). */
  readonly maxMessageBytes?: number | undefined
}

/** Drops undefined values: `ws` passes its options on to `node:tls`. */
const defined = <A extends Record<string, unknown>>(record: A): Partial<A> =>
  Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<A>

/**
 * The `ws` package (installed with @effect/platform-node) could not be loaded.
 *
 * @since 0.1.0 @category errors
 */
export class WsMissing extends Data.TaggedError("WsMissing")<{ readonly cause: unknown }> {
  override get message(): string {
    return `the ws package cannot be loaded (install it: npm install ws): ${
      this.cause instanceof Error ? this.cause.message : String(this.cause)
    }`
  }
}

let loading: Promise<unknown> | undefined

/**
 * The `ws` module, imported once on first use (typed `unknown` here: `ws` ships no typings).
 *
 * @since 0.1.0 @category constructors
 */
export const loadWs: Effect.Effect<unknown, WsMissing> = Effect.tryPromise({
  try: () => loading ??= import("ws"),
  catch: (cause) => new WsMissing({ cause })
})

/**
 * A WebSocket constructor for `Socket.WebSocketConstructor`, with `options` applied to every
 * WebSocket it makes. Fails with `Tls.TlsError` when a key file cannot be read, `WsMissing` when
 * `ws` cannot be loaded.
 *
 * @since 0.1.0 @category constructors
 */
export const makeConstructor = (
  options: ConstructorOptions = {}
): Effect.Effect<Context.Tag.Service<typeof Socket.WebSocketConstructor>, Tls.TlsError | WsMissing> =>
  Effect.zipWith(Tls.readCredentials(options), loadWs, (material, loaded) => {
    const ws = loaded as typeof WS
    const clientOptions: WS.ClientOptions = {
      ...defined({
        ca: material.ca,
        cert: material.cert,
        key: material.key,
        passphrase: material.passphrase,
        headers: options.headers,
        maxPayload: options.maxMessageBytes
      }),
      rejectUnauthorized: options.verify ?? true,
      // RPyC frames are compressed already (zlib above 3000 bytes)
      perMessageDeflate: false,
      ...(options.checkHostname === false ? { checkServerIdentity: () => undefined } : {})
    }
    return (url: string, protocols?: string | Array<string>): globalThis.WebSocket =>
      new ws.WebSocket(url, protocols, clientOptions)
  })

/**
 * {@link makeConstructor} as a layer.
 *
 * @since 0.1.0 @category layers
 */
export const layerConstructor = (
  options: ConstructorOptions = {}
): Layer.Layer<Socket.WebSocketConstructor, Tls.TlsError | WsMissing> =>
  Layer.effect(Socket.WebSocketConstructor, makeConstructor(options))
