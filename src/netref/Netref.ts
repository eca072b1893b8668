/**
 * Netrefs: local proxies of the peer's objects. Reading, calling or constructing through one gives
 * a remote operation; `for await` iterates the remote object; `release` (or `using`) drops the
 * reference early, garbage collection drops it eventually.
 *
 * @since 0.1.0
 */
import type { Connection } from "../internal/engine/Engine.js"
import { stateOf } from "../internal/netref/Netref.js"

export { isNetref, type Netref, release } from "../internal/netref/Netref.js"

/**
 * The connection a netref talks through (the peer that owns its object), or `undefined` for
 * anything that is not a netref.
 *
 * @since 0.1.0 @category getters
 */
export const connectionOf = (u: unknown): Connection | undefined => stateOf(u)?.owner as Connection | undefined
