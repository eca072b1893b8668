/**
 * TLS (RPyC's `ssl_connect` and `SSLAuthenticator`) on top of `node:tls`, which @effect/platform does
 * not wrap. RPyC frames flow inside TLS unchanged. Everything TLS of this package
 * lives here, for clients and servers alike: the options, reading the key material, checking it, the
 * handshake and what it tells about the peer.
 *
 * Defaults mirror RPyC (PROTOCOL.md §7.3):
 * - client: always encrypted; the server certificate is verified only when a `ca` is given (or
 *   `verify: true`), and the host name is not checked unless `checkHostname: true`;
 * - server: a client certificate is requested and required only when a `ca` is given.
 *
 * Key material is given as {@link Credentials}: PEM contents (string or Buffer, as `node:tls` takes
 * them) or RPyC's file names (`keyfile`, `certfile`, `cafile`); a PEM value wins over the file of the
 * same role.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as NodeTls from "node:tls"
import * as Tcp from "./Tcp.js"

// ---------------------------------------------------------------------------------------------------------
// credentials
// ---------------------------------------------------------------------------------------------------------

/**
 * PEM material: one PEM string/Buffer, or several.
 *
 * @since 0.1.0
 * @category models
 */
export type Pem = string | Buffer | ReadonlyArray<string | Buffer>

/**
 * PEM material once read: text only, so that it can cross a process boundary as JSON.
 *
 * @since 0.1.0
 * @category models
 */
export type PemText = string | Array<string>

/**
 * Key material, as PEM contents or as file names (RPyC's `keyfile` / `certfile` / `ca_certs`). A PEM
 * value wins over the file of the same role.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  /** Private key (RPyC's `keyfile`, as contents). */
  readonly key?: Pem | undefined
  /** Certificate chain (RPyC's `certfile`, as contents). */
  readonly cert?: Pem | undefined
  /** CA certificate(s) to verify the peer with (RPyC's `ca_certs`, as contents). */
  readonly ca?: Pem | undefined
  /** File of the private key (RPyC's `keyfile`). */
  readonly keyfile?: string | undefined
  /** File of the certificate chain (RPyC's `certfile`). */
  readonly certfile?: string | undefined
  /** CA bundle file (RPyC's `ca_certs`). */
  readonly cafile?: string | undefined
  /** Passphrase of an encrypted key. */
  readonly passphrase?: string | undefined
}

/**
 * {@link Credentials} with the files read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Material {
  readonly key: PemText | undefined
  readonly cert: PemText | undefined
  readonly ca: PemText | undefined
  readonly passphrase: string | undefined
}

/**
 * Key material that cannot be used: a file that cannot be read (`"Read"`), a server without a key or
 * a certificate (`"Incomplete"`), or PEM that OpenSSL refuses (`"Invalid"`).
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsError extends Data.TaggedError("TlsError")<{
  readonly reason: "Read" | "Incomplete" | "Invalid"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.detail
  }
}

const pemText = (pem: Pem): PemText =>
  typeof pem === "string"
    ? pem
    : Buffer.isBuffer(pem)
    ? pem.toString("utf8")
    : pem.map((p) => typeof p === "string" ? p : p.toString("utf8"))

const readPem = (
  role: string,
  pem: Pem | undefined,
  file: string | undefined
): Effect.Effect<PemText | undefined, TlsError> =>
  pem !== undefined
    ? Effect.succeed(pemText(pem))
    : file === undefined
    ? Effect.succeed(undefined)
    : Effect.tryPromise({
      try: () => Fs.promises.readFile(file, "utf8"),
      catch: (cause) =>
        new TlsError({
          reason: "Read",
          detail: `cannot read the TLS ${role} file ${file}: ${(cause as Error).message}`,
          cause
        })
    })

/**
 * Reads the files of `credentials` (PEM values are taken as they are).
 *
 * @since 0.1.0
 * @category credentials
 */
export const readCredentials = (credentials: Credentials): Effect.Effect<Material, TlsError> =>
  Effect.gen(function*() {
    return {
      key: yield* readPem("key", credentials.key, credentials.keyfile),
      cert: yield* readPem("certificate", credentials.cert, credentials.certfile),
      ca: yield* readPem("CA", credentials.ca, credentials.cafile),
      passphrase: credentials.passphrase
    }
  })

/** Drops undefined values: with exactOptionalPropertyTypes, node:tls options must not carry them. */
const defined = <A extends Record<string, unknown>>(record: A): { [K in keyof A]: Exclude<A[K], undefined> } =>
  Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as any

// ---------------------------------------------------------------------------------------------------------
// client
// ---------------------------------------------------------------------------------------------------------

/**
 * Options for {@link connect}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions extends Tcp.ConnectOptions, Credentials {
  /** Time allowed for TCP connect plus TLS handshake; default 3 seconds. */
  readonly openTimeout?: Duration.DurationInput | undefined
  /**
   * Verify the server's certificate chain (RPyC's `cert_reqs=CERT_REQUIRED`). Default: true when a CA
   * (`ca` or `cafile`) is given, false otherwise. With `true` and no CA, Node's bundled root CAs are
   * used.
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
 * Connects over TLS. Resolves once the handshake is done; an unreadable key file, a refused
 * connection, a failed verification (when verifying) or a timeout fail here with
 * `SocketGenericError` (reason `"Open"` / `"OpenTimeout"`).
 *
 * With TLS 1.3 a server that rejects the client's certificate does so *after* the client considers the
 * handshake done, so such a refusal surfaces as a failure of `run` (a `Read` error), not of `connect`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (options: ConnectOptions): Effect.Effect<Socket.Socket, Socket.SocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const material = yield* readCredentials(options).pipe(
      Effect.mapError((cause) => new Socket.SocketGenericError({ reason: "Open", cause }))
    )
    const host = options.host ?? Tcp.defaultHost(options.ipv6)
    const verify = options.verify ?? material.ca !== undefined
    const servername = options.servername ?? (Net.isIP(host) === 0 ? host : undefined)
    const tlsOptions: NodeTls.ConnectionOptions & { readonly allowHalfOpen: boolean } = {
      // a TLSSocket takes it from these options like a net.Socket (not in the typings)
      allowHalfOpen: true,
      host,
      port: options.port,
      ...(options.ipv6 ? { family: 6 } : {}),
      ...defined({
        ca: material.ca,
        cert: material.cert,
        key: material.key,
        passphrase: material.passphrase,
        servername,
        minVersion: options.minVersion,
        ciphers: options.ciphers
      }),
      rejectUnauthorized: verify,
      // RPyC forces check_hostname off unless asked; Node checks it whenever it verifies, so opt out
      ...(options.checkHostname ? {} : { checkServerIdentity: () => undefined })
    }
    return yield* Tcp.connectWith(() => NodeTls.connect(tlsOptions), {
      readyEvent: "secureConnect",
      address: Tcp.formatAddress(host, options.port),
      openTimeout: options.openTimeout,
      noDelay: options.noDelay ?? true,
      keepAlive: options.keepAlive
    })
  })

// ---------------------------------------------------------------------------------------------------------
// server
// ---------------------------------------------------------------------------------------------------------

/**
 * The TLS side of a server: its key material and how it treats clients.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerCredentials extends Credentials {
  /**
   * Require a valid client certificate, chaining to the CA (`ca` / `cafile`). Default: true when a CA is
   * given, as RPyC's `SSLAuthenticator` does.
   */
  readonly requireClientCert?: boolean | undefined
  /** A handshake not done within this time is dropped; default Node's 120 s. */
  readonly handshakeTimeout?: Duration.DurationInput | undefined
  /** Lowest protocol version to accept; default Node's. */
  readonly minVersion?: NodeTls.SecureVersion | undefined
  /** OpenSSL cipher list; default Node's. */
  readonly ciphers?: string | undefined
}

/**
 * {@link ServerCredentials} read, checked and with their defaults applied. Plain JSON, so a server can
 * hand it to a worker process.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerSettings {
  readonly key: PemText
  readonly cert: PemText
  readonly ca: PemText | undefined
  readonly passphrase: string | undefined
  readonly requireClientCert: boolean
  /** In milliseconds, as `node:tls` takes it; undefined for Node's default. */
  readonly handshakeTimeout: number | undefined
  readonly minVersion: NodeTls.SecureVersion | undefined
  readonly ciphers: string | undefined
}

/**
 * Reads and checks a server's key material: both a key and a certificate are needed, and OpenSSL must
 * accept them, so that a bad setup fails when the server starts (as RPyC's `SSLAuthenticator` does),
 * not on its first client.
 *
 * @since 0.1.0
 * @category credentials
 */
export const resolveServerCredentials = (credentials: ServerCredentials): Effect.Effect<ServerSettings, TlsError> =>
  Effect.gen(function*() {
    const { ca, cert, key, passphrase } = yield* readCredentials(credentials)
    if (key === undefined || cert === undefined) {
      return yield* new TlsError({ reason: "Incomplete", detail: "TLS needs both a private key and a certificate" })
    }
    yield* Effect.try({
      try: () => NodeTls.createSecureContext(defined({ key, cert, ca, passphrase })),
      catch: (cause) =>
        new TlsError({
          reason: "Invalid",
          detail: `invalid TLS key, certificate or CA: ${(cause as Error).message}`,
          cause
        })
    })
    return {
      key,
      cert,
      ca,
      passphrase,
      requireClientCert: credentials.requireClientCert ?? ca !== undefined,
      handshakeTimeout: credentials.handshakeTimeout === undefined
        ? undefined
        : Duration.toMillis(Duration.decode(credentials.handshakeTimeout)),
      minVersion: credentials.minVersion,
      ciphers: credentials.ciphers
    }
  })

const serverTlsOptions = (settings: ServerSettings): NodeTls.TlsOptions => ({
  ...defined({
    key: settings.key,
    cert: settings.cert,
    ca: settings.ca,
    passphrase: settings.passphrase,
    handshakeTimeout: settings.handshakeTimeout,
    minVersion: settings.minVersion,
    ciphers: settings.ciphers
  }),
  requestCert: settings.requireClientCert,
  rejectUnauthorized: settings.requireClientCert,
  // a client that shut its write side still gets its replies
  allowHalfOpen: true
})

/**
 * Options for {@link makeServer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions extends ServerCredentials {
  /** Address to bind; default `Tcp.defaultHost(ipv6)`. */
  readonly host?: string | undefined
  /** Port; default 0 (ephemeral). */
  readonly port?: number | undefined
  /** Listen on IPv6 (only affects the default host). */
  readonly ipv6?: boolean | undefined
  /** Listen backlog; default Node's. */
  readonly backlog?: number | undefined
  /** `TCP_NODELAY` on accepted connections; default true. */
  readonly noDelay?: boolean | undefined
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
export class TlsPeer extends Context.Tag("effect-rpyc/Tls/TlsPeer")<TlsPeer, PeerInfo>() {}

const peerInfo = (conn: NodeTls.TLSSocket): PeerInfo => {
  return {
    certificate: peerCertificate(conn),
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
 * RPyC's `SSLAuthenticator` raising `AuthenticationError`. Key material is read and checked first: a
 * problem fails here with `SocketServerError` reason `"Open"`, its cause a {@link TlsError}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeServer = (
  options: ServerOptions
): Effect.Effect<Tcp.Server<TlsPeer>, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const settings = yield* resolveServerCredentials(options).pipe(
      Effect.mapError((cause) => new SocketServer.SocketServerError({ reason: "Open", cause }))
    )
    return yield* Tcp.fromNetServer<NodeTls.Server, TlsPeer>({
      make: (onConnection) => {
        const server = NodeTls.createServer(serverTlsOptions(settings), onConnection)
        // without a listener node drops such connections silently; with one we can report them
        const onHandshakeError = options.onHandshakeError
        if (onHandshakeError) server.on("tlsClientError", (error, socket) => onHandshakeError(error, socket))
        return server
      },
      listen: {
        host: options.host ?? Tcp.defaultHost(options.ipv6),
        port: options.port ?? 0,
        ...(options.backlog === undefined ? {} : { backlog: options.backlog })
      },
      onAccept: (conn) => conn.setNoDelay(options.noDelay ?? true),
      context: (conn) => Context.make(TlsPeer, peerInfo(conn as NodeTls.TLSSocket))
    })
  })

/**
 * The server side of the handshake on a connection accepted elsewhere (e.g. by a parent process that
 * handed the socket over). The socket goes through a non-listening `tls.Server`, which gives it the
 * exact semantics of a connection accepted by {@link makeServer}: client certificate verification,
 * `authorized`, handshake timeout. Fails with the handshake error (the socket is then destroyed) or
 * when the peer closes first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const accept = (raw: Net.Socket, settings: ServerSettings): Effect.Effect<NodeTls.TLSSocket, Error> =>
  Effect.async<NodeTls.TLSSocket, Error>((resume) => {
    const server = NodeTls.createServer(serverTlsOptions(settings))
    let settled = false
    const settle = (result: Effect.Effect<NodeTls.TLSSocket, Error>) => {
      if (settled) return
      settled = true
      raw.off("close", onClose)
      resume(result)
    }
    const onClose = () => settle(Effect.fail(new Error("connection closed during the TLS handshake")))
    server.once("secureConnection", (conn: NodeTls.TLSSocket) => settle(Effect.succeed(conn)))
    server.once("tlsClientError", (error) => {
      raw.destroy()
      settle(Effect.fail(error))
    })
    raw.once("close", onClose)
    server.emit("connection", raw)
    return Effect.sync(() => raw.destroy())
  })

/**
 * What RPyC's `SSLAuthenticator` puts into a connection's `credentials`: the client's certificate
 * (with its issuer chain), or undefined when it sent none or `socket` is not a TLS socket.
 *
 * @since 0.1.0
 * @category peer
 */
export const peerCertificate = (socket: unknown): NodeTls.DetailedPeerCertificate | undefined => {
  if (!(socket instanceof NodeTls.TLSSocket)) return undefined
  const certificate = socket.getPeerCertificate(true)
  // node returns {} (not null) when the peer sent no certificate
  return certificate && Object.keys(certificate).length > 0 ? certificate : undefined
}

/**
 * {@link makeServer} as a layer for the platform's `SocketServer` service. {@link TlsPeer} is still
 * provided to every handler, but the service's `run` type does not remove it from the requirements:
 * read it with `Effect.serviceOption(TlsPeer)` there (Effect note E4).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer = (
  options: ServerOptions
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError> =>
  Layer.scoped(SocketServer.SocketServer, makeServer(options))
