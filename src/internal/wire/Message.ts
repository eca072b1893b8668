/**
 * The message envelope (PROTOCOL.md §3.1) in both dialects and the protocol constants.
 *
 * - v5 (rpyc ≤ 5.3): payload = brine `(msg, seq, args)`; the first byte is always `0x12`.
 * - v6 (rpyc 6.0):   payload = one raw byte `msg` + brine `(seq, args)`.
 *
 * The codec is written by hand: decoding a reply through a Schema model of the message costs
 * several times the hand codec per message (figures in test/wire/MessageSchema.ts), so the Schema
 * model lives with the tests as the spec the hand codec is checked against.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Brine from "./Brine.js"

/** @since 0.1.0 @category constants */
export const MsgType = { REQUEST: 1, REPLY: 2, EXCEPTION: 3 } as const
/** @since 0.1.0 */
export type MsgType = typeof MsgType[keyof typeof MsgType]

/** Box labels (PROTOCOL.md §3.3). @since 0.1.0 @category constants */
export const Label = { VALUE: 1, TUPLE: 2, LOCAL_REF: 3, REMOTE_REF: 4 } as const

/** The vinegar value standing for `StopIteration`. @since 0.1.0 @category constants */
export const EXC_STOP_ITERATION = 1

/** Request handler ids (PROTOCOL.md §3.4). @since 0.1.0 @category constants */
export const Handler = {
  PING: 1,
  CLOSE: 2,
  GETROOT: 3,
  GETATTR: 4,
  DELATTR: 5,
  SETATTR: 6,
  CALL: 7,
  CALLATTR: 8,
  REPR: 9,
  STR: 10,
  CMP: 11,
  HASH: 12,
  DIR: 13,
  PICKLE: 14,
  DEL: 15,
  INSPECT: 16,
  BUFFITER: 17,
  OLDSLICING: 18,
  CTXEXIT: 19,
  INSTANCECHECK: 20
} as const
/** @since 0.1.0 */
export type Handler = typeof Handler[keyof typeof Handler]

/** Handler names by id, for logs and errors. @since 0.1.0 */
export const handlerName = (id: number): string =>
  (Object.keys(Handler) as Array<keyof typeof Handler>).find((k) => Handler[k] === id) ?? `#${id}`

/** Which envelope a connection speaks. @since 0.1.0 @category models */
export type WireVersion = 5 | 6

/**
 * A payload that is not a valid envelope.
 *
 * @since 0.1.0 @category errors
 */
export class EnvelopeError extends Data.TaggedError("EnvelopeError")<{
  readonly reason: "UnknownVersion" | "Malformed" | "UnknownMessageType"
  readonly detail: string
}> {
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

// ---------------------------------------------------------------------------------------------
// shapes (test/wire/MessageSchema.ts holds them as Schemas: the spec this codec is checked against)

/** An id_pack: `(name_pack, class_id, instance_id)`. @since 0.1.0 @category models */
export type IdPack = readonly [string, number | bigint, number | bigint]

/** A boxed value: by value, a tuple of boxes, or a reference. @since 0.1.0 @category models */
export type Box =
  | readonly [1, unknown]
  | readonly [2, ReadonlyArray<Box>]
  | readonly [3, IdPack]
  | readonly [4, IdPack]

// ---------------------------------------------------------------------------------------------
// hand codec (hot path)

/**
 * Writes the payload of a message into a fresh buffer.
 *
 * @since 0.1.0 @category encoding
 */
export const encodePayload = (version: WireVersion, msg: MsgType, seq: number, args: unknown): Uint8Array => {
  const w = new Brine.Writer()
  writePayload(w, version, msg, seq, args)
  return w.result()
}

/**
 * Appends the payload of a message to `w` (several messages can share one buffer). Throws
 * `Brine.BrineError` on a value brine cannot carry, leaving what it wrote behind: the caller rewinds.
 *
 * @since 0.1.0 @category encoding
 */
export const writePayload = (
  w: Brine.Writer,
  version: WireVersion,
  msg: MsgType,
  seq: number,
  args: unknown
): void => {
  writeHead(w, version, msg, seq)
  Brine.write(w, args)
}

const writeHead = (w: Brine.Writer, version: WireVersion, msg: MsgType, seq: number): void => {
  if (version === 5) {
    w.byte(Brine.Tag.TUPLE_1 + 2)
    Brine.write(w, msg)
  } else {
    w.byte(msg)
    w.byte(Brine.Tag.TUPLE_1 + 1)
  }
  Brine.write(w, seq)
}

/**
 * Appends the payload of a request up to its boxed arguments, which the caller appends: what
 * {@link writePayload} writes for `(handler, boxed)`, without the boxed value built first.
 *
 * @since 0.1.0 @category encoding
 */
export const writeRequestHead = (w: Brine.Writer, version: WireVersion, seq: number, handler: number): void => {
  writeHead(w, version, MsgType.REQUEST, seq)
  Brine.writeTupleHeader(w, 2)
  Brine.write(w, handler)
}

/** A decoded envelope; `args` is still boxed. @since 0.1.0 @category models */
export interface Envelope {
  readonly msg: MsgType
  readonly seq: number
  readonly args: unknown
}

/**
 * Tells the dialect from the first payload byte (PROTOCOL.md §10.3).
 *
 * @since 0.1.0 @category decoding
 */
export const detectVersion = (payload: Uint8Array): WireVersion => {
  const b = payload[0]
  if (b === Brine.Tag.TUPLE_1 + 2) return 5
  if (b === 1 || b === 2 || b === 3) return 6
  throw new EnvelopeError({
    reason: "UnknownVersion",
    detail: b === undefined ? "empty payload" : `first payload byte 0x${b.toString(16).padStart(2, "0")}`
  })
}

const isSeq = (u: unknown): u is number => typeof u === "number" && Number.isInteger(u) && u >= 0

/**
 * Parses a payload. Throws `EnvelopeError` or `Brine.BrineError` on malformed input.
 *
 * @since 0.1.0 @category decoding
 */
export const decodePayload = (
  version: WireVersion,
  payload: Uint8Array,
  options?: Brine.DecodeOptions
): Envelope => {
  let msg: unknown, seq: unknown, args: unknown
  if (version === 5) {
    const t = Brine.decode(payload, options)
    if (!Array.isArray(t) || t.length !== 3) {
      throw new EnvelopeError({ reason: "Malformed", detail: "v5 payload is not a 3-tuple" })
    }
    ;[msg, seq, args] = t
  } else {
    msg = payload[0]
    const t = Brine.decodeAt(payload, 1, options)[0]
    if (!Array.isArray(t) || t.length !== 2) {
      throw new EnvelopeError({ reason: "Malformed", detail: "v6 payload body is not a 2-tuple" })
    }
    ;[seq, args] = t
  }
  if (msg !== 1 && msg !== 2 && msg !== 3) {
    throw new EnvelopeError({ reason: "UnknownMessageType", detail: `invalid message type: ${String(msg)}` })
  }
  if (!isSeq(seq)) throw new EnvelopeError({ reason: "Malformed", detail: `invalid seq ${String(seq)}` })
  return { msg, seq, args }
}
