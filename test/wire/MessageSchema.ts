/**
 * The wire messages as Schemas: the specification the hand-written codec of
 * src/internal/wire/Message.ts is checked against (test/wire/Message.test.ts decodes every vector
 * both ways and compares).
 *
 * Why the engine does not decode through these: on the 2-core development machine (node 20,
 * 200,000 v5 REPLY envelopes carrying a small int; `npx tsx bench/message-schema.ts`), brine plus
 * `Schema.decodeUnknownSync(MessageFromTuple)` took 3.6 µs per message against 0.13 µs for the
 * hand codec's `decodePayload`: 20 to 27 times as much, on the path every reply takes.
 */
import * as Schema from "effect/Schema"
import { EXC_STOP_ITERATION, Label } from "../../src/internal/wire/Message.js"
import type { Box as BoxType } from "../../src/internal/wire/Message.js"

/** @since 0.1.0 @category schemas */
export const Seq = Schema.NonNegativeInt.annotations({ identifier: "Seq" })

/** An id_pack: `(name_pack, class_id, instance_id)`. @since 0.1.0 @category schemas */
export const IdPack = Schema.Tuple(
  Schema.String,
  Schema.Union(Schema.Number, Schema.BigIntFromSelf),
  Schema.Union(Schema.Number, Schema.BigIntFromSelf)
).annotations({ identifier: "IdPack" })
/** @since 0.1.0 */
export type IdPack = typeof IdPack.Type

/** A boxed value (PROTOCOL.md §3.3). @since 0.1.0 @category schemas */
export const Box: Schema.Schema<BoxType> = Schema.Union(
  Schema.Tuple(Schema.Literal(Label.VALUE), Schema.Unknown),
  Schema.Tuple(Schema.Literal(Label.TUPLE), Schema.Array(Schema.suspend((): Schema.Schema<BoxType> => Box))),
  Schema.Tuple(Schema.Literal(Label.LOCAL_REF), IdPack),
  Schema.Tuple(Schema.Literal(Label.REMOTE_REF), IdPack)
).annotations({ identifier: "Box" })

/** A vinegar exception value (PROTOCOL.md §3.8). @since 0.1.0 @category schemas */
export const Vinegar = Schema.Union(
  Schema.Literal(EXC_STOP_ITERATION),
  Schema.String,
  Schema.Tuple(
    Schema.Tuple(Schema.String, Schema.String),
    Schema.Array(Schema.Unknown),
    Schema.Array(Schema.Tuple(Schema.String, Schema.Unknown)),
    Schema.String
  )
).annotations({ identifier: "Vinegar" })

const HandlerId = Schema.Int.pipe(Schema.between(1, 20)).annotations({ identifier: "HandlerId" })

/** @since 0.1.0 @category schemas */
export class Request extends Schema.TaggedClass<Request>()("Request", {
  seq: Seq,
  handler: HandlerId,
  args: Box
}) {}
/** @since 0.1.0 @category schemas */
export class Reply extends Schema.TaggedClass<Reply>()("Reply", { seq: Seq, value: Box }) {}
/** @since 0.1.0 @category schemas */
export class Exception extends Schema.TaggedClass<Exception>()("Exception", { seq: Seq, vinegar: Vinegar }) {}

/** @since 0.1.0 @category schemas */
export const Message = Schema.Union(Request, Reply, Exception).annotations({ identifier: "Message" })
/** @since 0.1.0 */
export type Message = typeof Message.Type

/**
 * The brine tuple `(msg, seq, args)` a payload carries, as a Schema transforming into `Message`.
 *
 * @since 0.1.0 @category schemas
 */
export const MessageFromTuple = Schema.transform(
  Schema.Tuple(Schema.Literal(1, 2, 3), Seq, Schema.Unknown),
  Message,
  {
    strict: false,
    decode: ([msg, seq, args]) => {
      switch (msg) {
        case 1: {
          const [handler, box] = args as readonly [unknown, unknown]
          return { _tag: "Request", seq, handler, args: box }
        }
        case 2:
          return { _tag: "Reply", seq, value: args }
        case 3:
          return { _tag: "Exception", seq, vinegar: args }
      }
    },
    encode: (m) => {
      switch (m._tag) {
        case "Request":
          return [1, m.seq, [m.handler, m.args]] as const
        case "Reply":
          return [2, m.seq, m.value] as const
        case "Exception":
          return [3, m.seq, m.vinegar] as const
      }
    }
  }
)
