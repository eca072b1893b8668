/**
 * The shape of a classic connection (RPyC's `rpyc.classic` connection): a `Connection` with
 * `modules`, `builtins`, `namespace`, `eval`, `execute` and `teleport`. A module of its own so that
 * the remoting helpers can take one without depending on how one is made.
 *
 * @since 0.1.0
 */
import type * as Awaitable from "../internal/base/Awaitable.js"
import type { RemoteFailure } from "../internal/base/Errors.js"
import type * as Connection from "../internal/engine/Engine.js"
import type * as RemoteOp from "../internal/netref/RemoteOp.js"
import type * as Teleport from "./Teleport.js"

/**
 * `c.modules`: every property is the remote module of that name, as a chainable remote operation.
 *
 * @since 0.1.0 @category models
 */
export type Modules = { readonly [name: string]: RemoteOp.Remote }

/**
 * A classic connection: a `Connection` with RPyC's classic attributes.
 *
 * @since 0.1.0 @category models
 */
export interface ClassicConnection extends Connection.Connection {
  /** The plain connection underneath. */
  readonly connection: Connection.Connection
  /** Which language the server speaks (and so which language `eval` / `execute` / `teleport` take). */
  readonly peer: "js" | "python"
  readonly modules: Modules
  /** The server's builtins: Python's `builtins` module, or the Node server's `globalThis`. */
  readonly builtins: RemoteOp.Remote
  /** Alias of `builtins`, as in RPyC. */
  readonly builtin: RemoteOp.Remote
  /** The server's namespace for `eval` / `execute` (one per connection on a TypeScript server). */
  readonly namespace: RemoteOp.Remote
  /** Evaluates `code` on the server and yields the value. */
  readonly eval: (code: string) => RemoteOp.Remote
  /** Executes `code` on the server (yields `null`). */
  readonly execute: (code: string) => RemoteOp.Remote
  /** Defines a function in the server's namespace and yields its netref (see `Teleport`). */
  readonly teleport: (
    fn: Function | string,
    options?: Teleport.TeleportOptions
  ) => Awaitable.Awaitable<RemoteOp.Remote, Teleport.TeleportError | RemoteFailure>
  /** Whether the server can load the module (`"name" in conn.modules`). */
  readonly hasModule: (name: string) => Awaitable.Awaitable<boolean, RemoteFailure>
}
