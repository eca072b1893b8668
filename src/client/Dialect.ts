/**
 * Telling the two RPyC dialects apart on a stream (PROTOCOL.md §3.1, §10.3), for the client's check
 * of its server's first frame and a server's refusal of a client of the other dialect. Not part of the
 * package's exports.
 *
 * @since 0.1.0
 */
import * as Channel from "../internal/wire/Channel.js"
import * as Message from "../internal/wire/Message.js"

/**
 * How many bytes of a stream {@link otherDialect} needs: the frame header and the first payload byte.
 *
 * @since 0.1.0 @category constants
 */
export const HEAD_SIZE = 6

/**
 * The dialect a stream's first frame is in, when it is not `expected`: `head` holds at least
 * {@link HEAD_SIZE} bytes (the payload starts with `12` in v5, `01`–`03` in v6). A compressed frame,
 * or bytes that are not RPyC at all, tell nothing (`undefined`).
 *
 * @since 0.1.0 @category detection
 */
export const otherDialect = (head: Uint8Array, expected: Message.WireVersion): Message.WireVersion | undefined => {
  if (head.length < HEAD_SIZE || head[4] !== 0) return undefined
  const first = head[5]!
  if (expected === 5 && first >= 0x01 && first <= 0x03) return 6
  if (expected === 6 && first === 0x12) return 5
  return undefined
}

/**
 * A CLOSE request at seq 0 in `version`'s dialect: what RPyC sends a peer whose first frame it cannot
 * parse before it hangs up (PROTOCOL.md §3.15).
 *
 * @since 0.1.0 @category encoding
 */
export const closeFrame = (version: Message.WireVersion): Uint8Array =>
  Channel.encodeFrame(
    Message.encodePayload(version, Message.MsgType.REQUEST, 0, [Message.Handler.CLOSE, [Message.Label.VALUE, []]])
  )

/**
 * `a` then `b`.
 *
 * @since 0.1.0 @category utils
 */
export const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/**
 * A chunk handler that holds back the first bytes of a stream until {@link HEAD_SIZE} of them have
 * come, hands them to `first` once, and every later chunk to `rest`. What a stream that ends early
 * left held back is `takeHeld()` (undefined when nothing is).
 *
 * @since 0.1.0 @category detection
 */
export const holdHead = <A>(
  first: (head: Uint8Array) => A | void,
  rest: (chunk: Uint8Array) => A | void
): { readonly onChunk: (chunk: Uint8Array) => A | void; readonly takeHeld: () => Uint8Array | undefined } => {
  // the bytes received before the first frame's first payload byte; undefined once decided
  let head: Uint8Array | undefined = new Uint8Array(0)
  return {
    onChunk: (chunk) => {
      if (head === undefined) return rest(chunk)
      const bytes = head.length === 0 ? chunk : concat(head, chunk)
      if (bytes.length < HEAD_SIZE) {
        head = bytes
        return
      }
      head = undefined
      return first(bytes)
    },
    takeHeld: () => {
      const held = head
      head = undefined
      return held === undefined || held.length === 0 ? undefined : held
    }
  }
}
