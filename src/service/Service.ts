/**
 * Services (PROTOCOL.md §5): the root object each side offers the other.
 *
 * ```ts
 * class MyService extends Service {
 *   override onConnect(conn: Connection) {}          // may return a Promise or an Effect
 *   exposed_get_answer() { return 42 }                // reachable as root.get_answer()
 *   exposed_the_real_answer_though = 43               // an exposed attribute
 *   get_question() { return "…" }                     // not reachable remotely
 * }
 * ```
 *
 * A service class gives every connection a fresh instance; a service instance is shared by all
 * connections; `classpartial(MyService, …args)` gives every connection a fresh instance built with
 * those arguments. Names follow RPyC: `MyService` is `"MY"` unless `static ALIASES` says
 * otherwise, and every root answers `get_service_name()` / `get_service_aliases()`.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type { ConnectionClosed } from "../internal/base/Errors.js"
import { attributeError } from "../internal/base/Errors.js"
import * as Connection from "../internal/engine/Engine.js"
import { idOf } from "../internal/object/LocalObjects.js"

export { restricted } from "../internal/object/Policy.js"

/**
 * The service base class.
 *
 * @since 0.1.0 @category models
 */
export class Service {
  /** Upper-cased on use; the first is the canonical name. Empty: derived from the class name. */
  static ALIASES: ReadonlyArray<string> = []

  /** Called once the connection is up, before it serves; may return a Promise or an Effect. */
  onConnect(_conn: Connection.Connection): unknown {
    return undefined
  }

  /** Called after the connection closed (no remote calls possible). */
  onDisconnect(_conn: Connection.Connection): unknown {
    return undefined
  }

  exposed_get_service_name(): string {
    return serviceName(this.constructor as ServiceClass)
  }

  exposed_get_service_aliases(): ReadonlyArray<string> {
    return serviceAliases(this.constructor as ServiceClass)
  }

  /** A service root can never be assigned to remotely. */
  _rpyc_setattr(_name: string, _value: unknown): never {
    throw attributeError("access denied")
  }

  /** Nor can its attributes be deleted. */
  _rpyc_delattr(_name: string): never {
    throw attributeError("access denied")
  }

  __repr__(): string {
    return `<${this.constructor.name} object at 0x${idOf(this).toString(16)}>`
  }
}

/**
 * The service that exposes nothing but its name: the default local service of a client.
 *
 * @since 0.1.0 @category models
 */
export class VoidService extends Service {}

/**
 * A service class (instantiated per connection).
 *
 * @since 0.1.0 @category models
 */
export type ServiceClass<S extends object = object> = (new() => S) & { readonly ALIASES?: ReadonlyArray<string> }

/**
 * What a server or client can be given as its service: a class (one instance per connection) or an
 * instance (shared).
 *
 * @since 0.1.0 @category models
 */
export type ServiceSpec = ServiceClass | object

const isServiceClass = (spec: ServiceSpec): spec is ServiceClass => typeof spec === "function"

/**
 * The aliases of a service class, upper-cased (RPyC's `get_service_aliases`).
 *
 * @since 0.1.0 @category naming
 */
export const serviceAliases = (cls: Function & { readonly ALIASES?: ReadonlyArray<string> }): ReadonlyArray<string> => {
  if (cls.ALIASES !== undefined && cls.ALIASES.length > 0) return cls.ALIASES.map((a) => String(a).toUpperCase())
  const name = (cls.name || "VOID").toUpperCase()
  return [name.endsWith("SERVICE") && name.length > 7 ? name.slice(0, -7) : name]
}

/**
 * The canonical name of a service class: its first alias.
 *
 * @since 0.1.0 @category naming
 */
export const serviceName = (cls: Function & { readonly ALIASES?: ReadonlyArray<string> }): string =>
  serviceAliases(cls)[0]

/**
 * The aliases of a service spec (class or instance).
 *
 * @since 0.1.0 @category naming
 */
export const aliasesOf = (spec: ServiceSpec): ReadonlyArray<string> =>
  serviceAliases(isServiceClass(spec) ? spec : (spec.constructor as ServiceClass))

/**
 * The root object for one new connection: a fresh instance of a class, or the shared instance.
 *
 * @since 0.1.0 @category constructors
 */
export const instantiate = (spec: ServiceSpec): object => (isServiceClass(spec) ? new spec() : spec)

/**
 * RPyC's `classpartial`: a service class whose per-connection instances are built with `args`.
 * It keeps the name and aliases of `cls`.
 *
 * @since 0.1.0 @category constructors
 */
export const classpartial = <A extends ReadonlyArray<unknown>, S extends object>(
  cls: (new(...args: A) => S) & { readonly ALIASES?: ReadonlyArray<string> },
  ...args: A
): ServiceClass<S> => {
  const Partial = class extends (cls as unknown as new(...args: ReadonlyArray<unknown>) => object) {
    constructor() {
      super(...args)
    }
  }
  Object.defineProperty(Partial, "name", { value: cls.name })
  Object.defineProperty(Partial, "ALIASES", { value: serviceAliases(cls) })
  return Partial as unknown as ServiceClass<S>
}

/**
 * The connection hooks of a root object, if it is a service (or any object with those methods).
 *
 * @since 0.1.0 @category hooks
 */
export const hooksOf = (root: object): Pick<Connection.Options, "onConnect" | "onDisconnect"> => {
  const r = root as Partial<Pick<Service, "onConnect" | "onDisconnect">>
  return {
    // the base class's own hooks do nothing: a connection without hooks skips them entirely
    onConnect: typeof r.onConnect === "function" && r.onConnect !== Service.prototype.onConnect
      ? (conn) => r.onConnect!(conn)
      : undefined,
    onDisconnect: typeof r.onDisconnect === "function" && r.onDisconnect !== Service.prototype.onDisconnect
      ? (conn) => r.onDisconnect!(conn)
      : undefined
  }
}

const servedBy = (root: object): Connection.Served => {
  const hooks = hooksOf(root)
  return { root, onConnect: hooks.onConnect, onDisconnect: hooks.onDisconnect }
}

/**
 * Runs a connection over `socket` whose root is `spec`'s per-connection instance (or the shared
 * instance), with the service's `onConnect` / `onDisconnect` hooks: RPyC's `Service._connect`.
 *
 * @since 0.1.0 @category constructors
 */
export const makeConnection = <Api = any>(
  socket: Socket.Socket,
  spec: ServiceSpec,
  options: Connection.Settings = {}
): Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  makeConnectionFor<Api>(socket, instantiate(spec), options)

/**
 * {@link makeConnection} with the root already made (by {@link instantiate}).
 *
 * @since 0.1.0 @category constructors
 */
export const makeConnectionFor = <Api = any>(
  socket: Socket.Socket,
  root: object,
  options: Connection.Settings = {}
): Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  Connection.makeFor<Api>(socket, options, servedBy(root))

/**
 * {@link makeConnectionFor} at once over a Node stream, with no fiber or scope
 * (`Connection.makeOnStream`): the caller closes it. `undefined` where {@link makeConnectionFor} is
 * needed (another transport, an `onConnect` hook, telemetry on).
 *
 * @since 0.1.0 @category constructors
 */
export const makeConnectionOnStream = <Api = any>(
  socket: Socket.Socket,
  root: object,
  options: Connection.Settings,
  runtime: Runtime.Runtime<never>
): Exit.Exit<Connection.Connection<Api>, Socket.SocketError> | undefined =>
  Connection.makeOnStream<Api>(socket, options, servedBy(root), runtime)
