/**
 * `ClassicService`: RPyC's classic "slave" for JavaScript (PROTOCOL.md §5.2) — the service a
 * classic server offers (`rpyc-classic`), and the local service of every classic client (RPyC's
 * `ClassicService` is master and slave at once: a classic peer may call back).
 *
 * What the peer reaches on the root (full trust: `onConnect` applies `Config.CLASSIC_OVERRIDES` to
 * the connection, exactly as RPyC's `SlaveService.on_connect`, so no `exposed_` prefix):
 *
 * | name                  | does                                                                     |
 * |-----------------------|--------------------------------------------------------------------------|
 * | `namespace`           | this connection's namespace (one per connection)                         |
 * | `execute(code)`       | runs JavaScript statements in the namespace; returns `None`              |
 * | `eval(code)`          | evaluates JavaScript in the namespace and returns the value (a Promise is awaited) |
 * | `getmodule(name)`     | `require(name)` from the server's working directory (`fs`, `node:path`, a package in `node_modules`; ESM-only packages through `import()`), plus the stand-ins below |
 * | `getconn()`           | this side's `Connection`                                                 |
 * | `get_service_name()`  | `"SLAVE"`, as RPyC's classic server                                      |
 *
 * Its namespace is a `node:vm` context (see `Namespace`); the modules it loads include stand-ins for
 * Python's (see `StandInModules`).
 *
 * @since 0.1.0
 */
import * as Config from "../internal/base/Config.js"
import type * as Connection from "../internal/engine/Engine.js"
import { Service } from "../service/Service.js"
import { evalIn, executeIn, makeNamespace, type Namespace } from "./Namespace.js"
import { loadModule, moduleName } from "./StandInModules.js"

/**
 * RPyC's classic service for JavaScript: the root of a classic server, and the local service of
 * a classic client. One instance per connection (give servers the class).
 *
 * @since 0.1.0 @category services
 */
export class ClassicService extends Service {
  /** Named as RPyC's classic server (`SLAVE`), so logs read `SLAVE/18812`. */
  static override ALIASES: ReadonlyArray<string> = ["SLAVE"]

  #namespace: Namespace | undefined
  #conn: Connection.Connection | undefined

  /** This connection's namespace (created on first use). */
  get namespace(): Namespace {
    return this.#namespace ??= makeNamespace()
  }

  /** Full trust on this connection, as RPyC's `SlaveService.on_connect`. */
  override onConnect(conn: Connection.Connection): unknown {
    this.#conn = conn
    Config.apply(conn.config, Config.CLASSIC_OVERRIDES)
    return undefined
  }

  /** Runs JavaScript statements in the namespace. */
  execute(code: unknown): null {
    executeIn(this.namespace, code)
    return null
  }

  /** Evaluates JavaScript in the namespace. */
  eval(code: unknown): unknown {
    return evalIn(this.namespace, code)
  }

  /** Loads a module (a tuple of names is joined with dots, as RPyC does). */
  getmodule(name: unknown): unknown {
    return loadModule(moduleName(name))
  }

  /** This side's connection. */
  getconn(): Connection.Connection | null {
    return this.#conn ?? null
  }

  // RPyC's service names are plain attributes too (the classic config turns the `exposed_` prefix off)
  get_service_name(): string {
    return this.exposed_get_service_name()
  }

  get_service_aliases(): ReadonlyArray<string> {
    return this.exposed_get_service_aliases()
  }
}
