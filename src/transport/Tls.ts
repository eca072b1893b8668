/**
 * TLS transport (RPyC's `ssl_connect` and `SSLAuthenticator`) on top of `node:tls`, which
 * @effect/platform does not wrap (effect-stack.md §2). RPyC frames flow inside TLS unchanged.
 *
 * Defaults mirror RPyC (rpyc-protocol.md §7.3):
 * - client: always encrypted; the server certificate is verified only when a `ca` is given (or
 *   `verify: true`), and the host name is not checked unless `checkHostname: true`;
 * - server: a client certificate is requested and required only when a `ca` is given.
 *
 * Certificates, keys and CAs are PEM contents (string or Buffer), as `node:tls` takes them; read files
 * yourself (RPyC takes file names).
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as NodeTls from "node:tls"
import * as Tcp from "./Tcp.js"

/**
 * PEM material: one PEM string/Buffer, or several.
 *
 * @since 0.1.0
 * @category models
 */
export type Pem = string | Buffer | ReadonlyArray<string | Buffer>

/**
 * Options for {@link connect}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions extends Tcp.ConnectOptions {
  /** Time allowed for TCP connect plus TLS handshake; default 3 seconds. */
  readonly openTimeout?: Duration.DurationInput | undefined
  /** CA certificate(s) to verify the server with (RPyC's `ca_certs`). Giving one turns verification on. */
  readonly ca?: Pem | undefined
  /** Client certificate chain, for servers that require one (RPyC's `certfile`). */
  readonly cert?: Pem | undefined
  /** Private key of `cert` (RPyC's `keyfile`). */
  readonly key?: Pem | undefined
  /** Passphrase of an encrypted `key`. */
  readonly passphrase?: string | undefined
  /**
   * Verify the server's certificate chain (RPyC's `cert_reqs=CERT_REQUIRED`). Default: true when `ca`
   * is given, false otherwise. With `true` and no `ca`, Node's bundled root CAs are used.
   */
  readonly verify?: boolean | undefined
  /** Also check that the certificate matches `servername`/`host`. Default false, like RPyC. */
  readonly checkHostname?: boolean | undefined
  /** SNI name; default `host` when it is a name (never an IP address, which SNI does not allow). */
  readonly servername?: string | undefined
  /** Lowest protocol version to accept, e.g. `"TLSv1.2"`; default Node's. */
  readonly minVersion?: NodeTls.SecureVersion | undefined
  /** OpenSSL cipher list; default Node's. */
  readonly ciphers?: string | undefined
}

/**
 * Options for {@link makeServer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions {
  /** Address to bind; default `127.0.0.1` (`::1` when `ipv6` is set). */
  readonly host?: string | undefined
  /** Port; default 0 (ephemeral). */
  readonly port?: number | undefined
  /** Listen on IPv6 (only affects the default host). */
  readonly ipv6?: boolean | undefined
  /** Listen backlog; default Node's. */
  readonly backlog?: number | undefined
  /** `TCP_NODELAY` on accepted connections; default true. */
  readonly noDelay?: boolean | undefined
  /** Server private key (RPyC's `keyfile`). */
  readonly key: Pem
  /** Server certificate chain (RPyC's `certfile`). */
  readonly cert: Pem
  /** Passphrase of an encrypted `key`. */
  readonly passphrase?: string | undefined
  /**
   * CA certificate(s) that client certificates must chain to (RPyC's `ca_certs`). Giving one makes the
   * server request a client certificate and refuse clients without a valid one.
   */
  readonly ca?: Pem | undefined
  /** Require a valid client certificate; default: true when `ca` is given. */
  readonly requireClientCert?: boolean | undefined
  /** A handshake not done within this many milliseconds is dropped; default Node's 120 s. */
  readonly handshakeTimeout?: number | undefined
  /** Lowest protocol version to accept; default Node's. */
  readonly minVersion?: NodeTls.SecureVersion | undefined
  /** OpenSSL cipher list; default Node's. */
  readonly ciphers?: string | undefined
  /**
   * Called when a client fails the handshake (no or bad client certificate, not TLS at all, timeout).
   * That connection is dropped; the server keeps serving. Default: ignore.
   */
  readonly onHandshakeError?: ((error: Error, socket: NodeTls.TLSSocket) => void) | undefined
}

/**
 * What the server knows about the peer of an accepted TLS connection, taken right after the
 * handshake. RPyC puts the client certificate into the connection's `credentials`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PeerInfo {
  /** The client's certificate (with its issuer chain), or undefined when it sent none. */
  readonly certificate: NodeTls.DetailedPeerCertificate | undefined
  /** Whether the certificate was verified against the server's `ca`. */
  readonly authorized: boolean
  /** Why it was not, when it was not. */
  readonly authorizationError: Error | undefined
  /** Negotiated protocol, e.g. `"TLSv1.3"`. */
  readonly protocol: string | null
  /** Negotiated cipher. */
  readonly cipher: NodeTls.CipherNameAndProtocol
  /** SNI name the client asked for, if any. */
  readonly servername: string | undefined
}

/**
 * Provided to every handler of a {@link makeServer} server (next to `NodeSocket.NetSocket`, which is
 * the `tls.TLSSocket` itself). `run` removes it from the handler's requirements.
 *
 * @since 0.1.0
 * @category tags
 */
export class TlsPeer extends Context.Tag("effect-rpyc/transport/Tls/TlsPeer")<TlsPeer, PeerInfo>() {}

/** node:tls wants mutable arrays; ours are readonly in the API. */
const pem = (value: Pem | undefined): string | Buffer | Array<string | Buffer> | undefined =>
  value === undefined ? undefined : typeof value === "string" || Buffer.isBuffer(value) ? value : [...value]

/** Drops undefined values: with exactOptionalPropertyTypes, node:tls options must not carry them. */
const defined = <A extends Record<string, unknown>>(record: A): { [K in keyof A]: Exclude<A[K], undefined> } =>
  Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as any

/**
 * Connects over TLS. Resolves once the handshake is done; a refused connection, a failed
 * verification (when verifying) or a timeout fail here with `SocketGenericError` (reason `"Open"` /
 * `"OpenTimeout"`).
 *
 * With TLS 1.3 a server that rejects the client's certificate does so *after* the client considers the
 * handshake done, so such a refusal surfaces as a failure of `run` (a `Read` error), not of `connect`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (options: ConnectOptions): Effect.Effect<Socket.Socket, Socket.SocketError, Scope.Scope> => {
  const host = options.host ?? (options.ipv6 ? "::1" : "127.0.0.1")
  const verify = options.verify ?? options.ca !== undefined
  const servername = options.servername ?? (Net.isIP(host) === 0 ? host : undefined)
  const tlsOptions: NodeTls.ConnectionOptions = {
    host,
    port: options.port,
    ...(options.ipv6 ? { family: 6 } : {}),
    ...defined({
      ca: pem(options.ca),
      cert: pem(options.cert),
      key: pem(options.key),
      passphrase: options.passphrase,
      servername,
      minVersion: options.minVersion,
      ciphers: options.ciphers
    }),
    rejectUnauthorized: verify,
    // RPyC forces check_hostname off unless asked; Node checks it whenever it verifies, so opt out
    ...(options.checkHostname ? {} : { checkServerIdentity: () => undefined })
  }
  return Tcp.connectWith(() => NodeTls.connect(tlsOptions), {
    readyEvent: "secureConnect",
    openTimeout: options.openTimeout,
    noDelay: options.noDelay ?? true,
    keepAlive: options.keepAlive
  })
}

const peerInfo = (conn: NodeTls.TLSSocket): PeerInfo => {
  const certificate = conn.getPeerCertificate(true)
  return {
    // node returns {} (not null) when the peer sent no certificate
    certificate: certificate && Object.keys(certificate).length > 0 ? certificate : undefined,
    authorized: conn.authorized,
    authorizationError: conn.authorizationError ?? undefined,
    protocol: conn.getProtocol(),
    cipher: conn.getCipher(),
    servername: typeof conn.servername === "string" ? conn.servername : undefined
  }
}

/**
 * Listens for TLS connections (default `127.0.0.1:0`). Handlers get the decrypted stream as a
 * `Socket`, the `tls.TLSSocket` as `NodeSocket.NetSocket`, and the peer's certificate as
 * {@link TlsPeer}. A client that fails the handshake is dropped without reaching the handler, like
 * RPyC's `SSLAuthenticator` raising `AuthenticationError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeServer = (
  options: ServerOptions
): Effect.Effect<Tcp.Server<TlsPeer>, SocketServer.SocketServerError, Scope.Scope> => {
  const requireClientCert = options.requireClientCert ?? options.ca !== undefined
  const tlsOptions: NodeTls.TlsOptions = {
    ...defined({
      key: pem(options.key),
      cert: pem(options.cert),
      ca: pem(options.ca),
      passphrase: options.passphrase,
      handshakeTimeout: options.handshakeTimeout,
      minVersion: options.minVersion,
      ciphers: options.ciphers
    }),
    requestCert: requireClientCert,
    rejectUnauthorized: requireClientCert
  }
  return Tcp.fromNetServer<NodeTls.Server, TlsPeer>({
    make: (onConnection) => {
      const server = NodeTls.createServer(tlsOptions, onConnection)
      // without a listener node drops such connections silently; with one we can report them
      const onHandshakeError = options.onHandshakeError
      if (onHandshakeError) server.on("tlsClientError", (error, socket) => onHandshakeError(error, socket))
      return server
    },
    listen: {
      host: options.host ?? (options.ipv6 ? "::1" : "127.0.0.1"),
      port: options.port ?? 0,
      ...(options.backlog === undefined ? {} : { backlog: options.backlog })
    },
    onAccept: (conn) => conn.setNoDelay(options.noDelay ?? true),
    context: (conn) => Context.make(TlsPeer, peerInfo(conn as NodeTls.TLSSocket))
  })
}

/**
 * {@link makeServer} as a layer for the platform's `SocketServer` service. {@link TlsPeer} is still
 * provided to every handler, but the service's `run` type does not remove it from the requirements:
 * read it with `Effect.serviceOption(TlsPeer)` there (pitfall P4).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer = (
  options: ServerOptions
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError> =>
  Layer.scoped(SocketServer.SocketServer, makeServer(options))
