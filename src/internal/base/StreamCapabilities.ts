/**
 * What a transport's socket can do beyond the platform `Socket` interface, for the engine: stop
 * and restart reading (backpressure), keep writing after the peer has finished sending
 * (half-close), and write each frame on its own (TLS, where a Python peer reads one record at a
 * time). Transports attach it to the sockets they make; sockets without it get none of this.
 *
 * @since 0.1.0
 */
import type * as Exit from "effect/Exit"

/** @since 0.1.0 @category symbols */
export const TypeId: unique symbol = Symbol.for("effect-rpyc/StreamCapabilities")

/** @since 0.1.0 @category models */
export interface StreamCapabilities {
  /** Stops delivering incoming data until `resume`. */
  readonly pause: () => void
  readonly resume: () => void
  /** Writes still reach the peer after it ended its side (its FIN arrived). */
  readonly writableAfterEnd: boolean
  /** Write each frame with a write of its own rather than joining queued frames. */
  readonly writePerFrame: boolean
  /**
   * Synchronous writes into the transport's own buffer, for a writer that needs no fiber (the
   * engine joins the frames of one event-loop turn into one chunk). Absent where frames must be
   * written one at a time (`writePerFrame`).
   */
  readonly direct?: DirectWriter | undefined
  /**
   * Reading without a fiber (what `run` does, for a reader that needs none): `onChunk` gets each
   * chunk and `onEnd` is called once with how reading ended, as `run`'s exit would be. Gives the
   * function that stops reading and closes the stream once what was written has left, or, as `run`
   * would fail at once, the stream's error. Absent where reading must go through `run`.
   */
  readonly listen?: Listen | undefined
}

/**
 * See {@link StreamCapabilities.listen}.
 *
 * @since 0.1.0 @category models
 */
export type Listen = (
  onChunk: (chunk: Uint8Array) => void,
  onEnd: (exit: Exit.Exit<void, unknown>) => void
) => Exit.Exit<() => void, unknown>

/**
 * Writing straight into a stream's buffer.
 *
 * @since 0.1.0 @category models
 */
export interface DirectWriter {
  /**
   * Queues `chunk`; a closed stream drops it. `written`, if given, is called once the stream has
   * handed all of `chunk` to the system (so its memory may be reused), and never if it did not.
   */
  readonly write: (chunk: Uint8Array, written?: () => void) => void
  /** Bytes queued and not yet handed to the system. */
  readonly buffered: () => number
  /** Calls `f` each time the queue has drained. */
  readonly onDrain: (f: () => void) => void
  /**
   * Holds the stream open for writing (as the platform `writer` does while acquired); the function
   * it gives releases the hold, which ends our side of the stream.
   */
  readonly hold: () => () => void
}

/**
 * The capabilities attached to `socket`, if any.
 *
 * @since 0.1.0 @category getters
 */
export const of = (socket: object): StreamCapabilities | undefined =>
  (socket as { readonly [TypeId]?: StreamCapabilities })[TypeId]

/**
 * `socket` with `capabilities` attached.
 *
 * @since 0.1.0 @category constructors
 */
export const attach = <S extends object>(socket: S, capabilities: StreamCapabilities): S =>
  Object.assign(socket, { [TypeId]: capabilities })

/**
 * `wrapper` with the capabilities of the socket it wraps, if any: a socket that only watches the
 * bytes going by (a dialect check) can still do what the transport underneath can. Reading
 * without a fiber is the wrapper's own `listen` (none if not given).
 *
 * @since 0.1.0 @category constructors
 */
export const inherit = <S extends object>(wrapper: S, from: object, listen?: Listen | undefined): S => {
  const capabilities = of(from)
  // reading straight from the stream would bypass what the wrapper watches: it passes its own, if any
  return capabilities === undefined ? wrapper : attach(wrapper, { ...capabilities, listen })
}
