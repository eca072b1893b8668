/**
 * RPyC's registry protocol (PROTOCOL.md §8): constants, models, errors and the brine codec of
 * requests and replies. Servers live in `RegistryServer`, clients ("registrars") in `RegistryClient`.
 *
 * On the wire there is no RPyC framing: every UDP datagram, and the single request and single reply of
 * each TCP connection, is exactly one brine value. A request is `("RPYC", COMMAND, args)`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Pythonic from "../internal/object/Pythonic.js"
import * as Brine from "../internal/wire/Brine.js"

// ---------------------------------------------------------------------------------------------
// constants

/**
 * The registry's default UDP and TCP port.
 *
 * @since 0.1.0
 * @category constants
 */
export const REGISTRY_PORT = 18811

/**
 * Entries whose last keep-alive is older than this are pruned (RPyC: 4 minutes).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_PRUNING_TIMEOUT: Duration.Duration = Duration.seconds(240)

/**
 * The largest request a server reads (RPyC's `recvfrom(1500)` / `recv(1500)`); bigger UDP datagrams are
 * truncated to this, as Python does.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_DGRAM_SIZE = 1500

/**
 * How often a registered server refreshes its registration (RPyC's `REREGISTER_INTERVAL`).
 *
 * @since 0.1.0
 * @category constants
 */
export const REREGISTER_INTERVAL: Duration.Duration = Duration.seconds(60)

/**
 * The magic string that starts every request.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAGIC = "RPYC"

/**
 * The address the UDP registrar sends to by default: the limited broadcast address, as RPyC does.
 *
 * @since 0.1.0
 * @category constants
 */
export const BROADCAST_ADDRESS = "255.255.255.255"

// ---------------------------------------------------------------------------------------------
// models

/**
 * Where an RPC server listens, as the registry records it: the source IP the registry saw and the port
 * the server announced.
 *
 * @since 0.1.0
 * @category models
 */
export interface Address {
  readonly host: string
  readonly port: number
}

/**
 * A decoded registry request.
 *
 * @since 0.1.0
 * @category models
 */
export type Request = Data.TaggedEnum<{
  /** Record `(source IP, port)` under every alias (upper-cased by the server). */
  Register: { readonly aliases: ReadonlyArray<string>; readonly port: number }
  /** Remove `(source IP, port)` from every service. */
  Unregister: { readonly port: number }
  /** Ask for the servers of one service. */
  Query: { readonly name: string }
  /** Ask for the names of the registered services, optionally only those with a server on `filterHost`. */
  List: { readonly filterHost: string | null }
}>

/**
 * Constructors and matchers for {@link Request}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Request = Data.taggedEnum<Request>()

// ---------------------------------------------------------------------------------------------
// errors

/**
 * A registry operation could not be carried out: a socket could not be bound or reached, no registry
 * answered in time, or a reply was not what the protocol promises.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryError extends Data.TaggedError("RegistryError")<{
  readonly reason: "Bind" | "Connect" | "Send" | "Receive" | "Timeout" | "BadReply" | "NotAcknowledged"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

/**
 * No server of the requested service could be found (RPyC's `DiscoveryError`).
 *
 * @since 0.1.0
 * @category errors
 */
export class DiscoveryError extends Data.TaggedError("DiscoveryError")<{
  /**
   * NotFound: a registry answered, without servers. Unreachable: no registry answered.
   * AllDown: servers were found but none accepted a connection (`failures` says why).
   */
  readonly reason: "NotFound" | "Unreachable" | "AllDown"
  /** The service asked for (`name` stays the error's own, `"DiscoveryError"`). */
  readonly service: string
  readonly cause?: unknown
  readonly failures?: ReadonlyArray<string> | undefined
}> {
  override get message(): string {
    switch (this.reason) {
      case "NotFound":
        return `no servers exposing ${pyRepr(this.service)} were found`
      case "Unreachable":
        return `no registry answered the query for ${pyRepr(this.service)}`
      case "AllDown":
        return `All services are down: ${(this.failures ?? []).join("; ")}`
    }
  }
}

/**
 * The registry refused the request: listing is disabled (RPyC's `ForbiddenError`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ForbiddenError extends Data.TaggedError("ForbiddenError")<{
  readonly reason: "ListingDisabled"
}> {
  override get message(): string {
    return "registry listing is disabled"
  }
}

// ---------------------------------------------------------------------------------------------
// requests

const COMMANDS = {
  Register: "REGISTER",
  Unregister: "UNREGISTER",
  Query: "QUERY",
  List: "LIST"
} as const

/**
 * The brine value of a request, `("RPYC", COMMAND, args)`, exactly as Python's registrars build it.
 *
 * @since 0.1.0
 * @category encoding
 */
export const requestValue = (request: Request): Brine.Value => {
  switch (request._tag) {
    case "Register":
      return [MAGIC, COMMANDS.Register, [request.aliases, request.port]]
    case "Unregister":
      return [MAGIC, COMMANDS.Unregister, [request.port]]
    case "Query":
      return [MAGIC, COMMANDS.Query, [request.name]]
    case "List":
      // a 1-tuple holding a 1-tuple: Python passes `(filter_host,)` as the single argument
      return [MAGIC, COMMANDS.List, [[request.filterHost]]]
  }
}

/**
 * Encodes a request to brine bytes (one datagram, or the whole TCP request).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeRequest = (request: Request): Uint8Array => Brine.encode(requestValue(request))

const isPort = (u: unknown): u is number => typeof u === "number" && Number.isInteger(u) && u >= 0 && u <= 65535

/**
 * Decodes a request. `None` for everything a registry must ignore: bytes that are not brine, a wrong
 * magic, an unknown command, or arguments of the wrong shape. Never throws.
 *
 * Python looks commands up case-insensitively and so do we. Argument checks are stricter than
 * Python's (which would fail inside the command and also send nothing): aliases must be strings and
 * ports integers in 0–65535.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeRequest = (bytes: Uint8Array): Option.Option<Request> => {
  let value: Brine.Value
  try {
    value = Brine.decode(bytes)
  } catch {
    return Option.none()
  }
  return requestFromValue(value)
}

/**
 * Interprets an already decoded brine value as a request (see {@link decodeRequest}).
 *
 * @since 0.1.0
 * @category decoding
 */
export const requestFromValue = (value: Brine.Value): Option.Option<Request> => {
  if (!Array.isArray(value) || value.length !== 3) return Option.none()
  const [magic, command, args] = value as ReadonlyArray<Brine.Value>
  if (magic !== MAGIC || typeof command !== "string" || !Array.isArray(args)) return Option.none()
  const a = args as ReadonlyArray<Brine.Value>
  switch (command.toUpperCase()) {
    case COMMANDS.Register: {
      if (a.length !== 2) return Option.none()
      const [aliases, port] = a
      if (!Array.isArray(aliases) || !isPort(port)) return Option.none()
      const names = aliases as ReadonlyArray<Brine.Value>
      if (!names.every((n): n is string => typeof n === "string")) return Option.none()
      return Option.some(Request.Register({ aliases: names as ReadonlyArray<string>, port }))
    }
    case COMMANDS.Unregister: {
      if (a.length !== 1 || !isPort(a[0])) return Option.none()
      return Option.some(Request.Unregister({ port: a[0] }))
    }
    case COMMANDS.Query: {
      if (a.length !== 1 || typeof a[0] !== "string") return Option.none()
      return Option.some(Request.Query({ name: a[0] }))
    }
    case COMMANDS.List: {
      if (a.length !== 1 || !Array.isArray(a[0])) return Option.none()
      const inner = a[0] as ReadonlyArray<Brine.Value>
      if (inner.length < 1) return Option.none()
      const filter = inner[0]
      // Python filters only when `filter_host[0]` is truthy: None and "" both mean "no filter"
      if (filter === null || filter === undefined || filter === "") {
        return Option.some(Request.List({ filterHost: null }))
      }
      if (typeof filter !== "string") return Option.none()
      return Option.some(Request.List({ filterHost: filter }))
    }
    default:
      return Option.none()
  }
}

// ---------------------------------------------------------------------------------------------
// replies

/**
 * The reply to REGISTER and UNREGISTER.
 *
 * @since 0.1.0
 * @category constants
 */
export const OK = "OK"

/**
 * The brine value of a QUERY reply: a tuple of `(host, port)` tuples.
 *
 * @since 0.1.0
 * @category encoding
 */
export const queryReplyValue = (addresses: ReadonlyArray<Address>): Brine.Value =>
  addresses.map((a) => [a.host, a.port])

/**
 * The brine value of a LIST reply: a tuple of names, or `None` when listing is disabled.
 *
 * @since 0.1.0
 * @category encoding
 */
export const listReplyValue = (names: Option.Option<ReadonlyArray<string>>): Brine.Value => Option.getOrNull(names)

const tryDecode = (bytes: Uint8Array): Option.Option<Brine.Value> => {
  try {
    return Option.some(Brine.decode(bytes))
  } catch {
    return Option.none()
  }
}

/**
 * Decodes a QUERY reply. `None` when the bytes are not a tuple of `(str, int)` tuples.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeQueryReply = (bytes: Uint8Array): Option.Option<ReadonlyArray<Address>> =>
  Option.flatMap(tryDecode(bytes), (value) => {
    if (!Array.isArray(value)) return Option.none()
    const out: Array<Address> = []
    for (const item of value as ReadonlyArray<Brine.Value>) {
      if (!Array.isArray(item) || item.length !== 2) return Option.none()
      const [host, port] = item as ReadonlyArray<Brine.Value>
      if (typeof host !== "string" || !isPort(port)) return Option.none()
      out.push({ host, port })
    }
    return Option.some(out)
  })

/**
 * Decodes a LIST reply: `Some(Some(names))`, `Some(None)` when the registry has listing disabled, or
 * `None` when the bytes are not a valid reply.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeListReply = (bytes: Uint8Array): Option.Option<Option.Option<ReadonlyArray<string>>> =>
  Option.flatMap(tryDecode(bytes), (value) => {
    if (value === null) return Option.some(Option.none())
    if (!Array.isArray(value)) return Option.none()
    const names = value as ReadonlyArray<Brine.Value>
    return names.every((n): n is string => typeof n === "string")
      ? Option.some(Option.some(names as ReadonlyArray<string>))
      : Option.none()
  })

/**
 * Whether the bytes are the `"OK"` acknowledgement of REGISTER / UNREGISTER.
 *
 * @since 0.1.0
 * @category decoding
 */
export const isOkReply = (bytes: Uint8Array): boolean =>
  Option.match(tryDecode(bytes), { onNone: () => false, onSome: (v) => v === OK })

/**
 * Whether `bytes` hold one complete brine value, to know when a TCP peer has sent its whole message.
 * Bytes that can never become valid brine count as complete, so that the reader stops waiting.
 *
 * @since 0.1.0
 * @category decoding
 */
export const isComplete = (bytes: Uint8Array): boolean => {
  try {
    Brine.decode(bytes)
    return true
  } catch (error) {
    return !(error instanceof Brine.BrineError && error.reason === "Truncated")
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

/**
 * Python's `repr` of a str, used to write log lines the way RPyC's registry does (`querying for 'FOO'`).
 *
 * @since 0.1.0
 * @category utils
 */
export const pyRepr = (s: string): string => Pythonic.reprOf(s)

/**
 * Formats an address as `host:port` (IPv6 hosts in brackets).
 *
 * @since 0.1.0
 * @category utils
 */
export const formatAddress = (address: Address): string =>
  address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`

/**
 * What every registrar does (`RegistryClient.Registrar`, `RedisRegistry.Registrar`): register and
 * unregister servers, look them up, list the services.
 *
 * @since 0.1.0
 * @category models
 */
export interface RegistrarOperations {
  /**
   * Registers `aliases` for the RPC server listening on `port` of this machine (the registry records the
   * source address it sees). `iface` is the local address to send from, which decides that source on
   * multi-homed hosts. Fails with `NotAcknowledged`/`Timeout` when no registry says "OK".
   */
  readonly register: (
    aliases: ReadonlyArray<string>,
    port: number,
    iface?: string | undefined
  ) => Effect.Effect<void, RegistryError>
  /** Removes this machine's server on `port` from every service. Over UDP this is fire-and-forget. */
  readonly unregister: (port: number) => Effect.Effect<void, RegistryError>
  /**
   * The servers of a service, oldest registration first; empty when the registry knows none. Over UDP
   * the first registry to answer wins. Fails with `Timeout` when no registry answers.
   */
  readonly discover: (name: string) => Effect.Effect<ReadonlyArray<Address>, RegistryError>
  /** Registered service names (`None` when the registry has listing disabled). */
  readonly list: (
    filterHost?: string | undefined
  ) => Effect.Effect<Option.Option<ReadonlyArray<string>>, RegistryError>
}
