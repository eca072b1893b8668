/**
 * What decoding replies through the Schema model of a message would cost, next to the hand codec
 * the engine uses: `npx tsx bench/message-schema.ts`. Prints ns per message and the ratio.
 */
import * as Schema from "effect/Schema"
import * as Brine from "../src/internal/wire/Brine.js"
import * as Message from "../src/internal/wire/Message.js"
import * as MessageSchema from "../test/wire/MessageSchema.js"

const MESSAGES = 200_000
const payload = Message.encodePayload(5, Message.MsgType.REPLY, 7, [Message.Label.VALUE, 42])
const decodeSchema = Schema.decodeUnknownSync(MessageSchema.MessageFromTuple)

const nanosPerMessage = (label: string, decode: () => void): number => {
  for (let i = 0; i < MESSAGES / 10; i++) decode()
  const start = process.hrtime.bigint()
  for (let i = 0; i < MESSAGES; i++) decode()
  const nanos = Number(process.hrtime.bigint() - start) / MESSAGES
  console.log(`${label.padEnd(28)} ${nanos.toFixed(0).padStart(6)} ns/message`)
  return nanos
}

const hand = nanosPerMessage("hand codec (decodePayload)", () => Message.decodePayload(5, payload))
const schema = nanosPerMessage("brine + Schema model", () => decodeSchema(Brine.decode(payload)))
console.log(`Schema / hand: ${(schema / hand).toFixed(1)}x`)
