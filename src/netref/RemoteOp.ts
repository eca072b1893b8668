/**
 * Remote operations: what reading, calling or constructing through a netref returns. Lazy, and at
 * once an `Effect<A, RemoteFailure>` and a `PromiseLike<A>`; they chain without waiting
 * (`conn.modules.os.path.join("a", "b")`). The types give a connection's root the shape of the
 * service it talks to (`Typed`, `RootOf`).
 *
 * @since 0.1.0
 */
export {
  getattr,
  isRemoteOp,
  Kwargs,
  kwargs,
  type Received,
  type Remote,
  type RemoteAttributes,
  type RemoteMembers,
  type RemoteOp,
  type RemoteRef,
  type RootOf,
  type Typed,
  type UntypedRoot
} from "../internal/netref/RemoteOp.js"
