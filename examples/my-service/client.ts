/**
 * Talks to examples/my-service/server.ts: `npx tsx examples/my-service/client.ts`
 */
import * as rpyc from "effect-rpyc"

const c = await rpyc.connect("localhost", Number(process.env.PORT ?? 18861))
console.log("root:", String(await rpyc.Operations.repr(c.root)))
console.log("get_answer():", await c.root.get_answer())
console.log("the_real_answer_though:", await c.root.the_real_answer_though)
console.log("get_greeting():", await c.root.get_greeting())
console.log("get_service_name():", await c.root.get_service_name())
console.log("get_service_aliases():", await c.root.get_service_aliases())
try {
  // denied unless the server allows public attributes
  console.log("get_question():", await c.root.get_question())
} catch (e) {
  console.log("get_question():", e instanceof rpyc.RemoteError ? `${e.name}: ${e.args[0]}` : e)
}
try {
  console.log("public_note:", await c.root.public_note)
} catch (e) {
  console.log("public_note:", e instanceof rpyc.RemoteError ? `${e.name}: ${e.args[0]}` : e)
}
await c.close()
