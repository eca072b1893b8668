/**
 * A live RPyC connection over any @effect/platform `Socket`: `make` runs one for the lifetime of a
 * scope; `conn.root` is the peer's root object; closing the scope closes the connection and fails
 * every pending call with `ConnectionClosed`.
 *
 * @since 0.1.0
 */
export {
  byRef,
  type Connection,
  fromHookResult,
  isConnection,
  make,
  type Options,
  type RequestOptions,
  runOwned,
  TypeId
} from "../internal/engine/Engine.js"
