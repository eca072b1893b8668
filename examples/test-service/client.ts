/**
 * The seed's first example, client side: `npx tsx examples/test-service/client.ts` prints 12.
 */
import * as rpyc from "effect-rpyc"

const conn = await rpyc.connect("localhost", Number(process.env.PORT ?? 9999))
const cResult = await conn.root.test(11)
await conn.close()
console.log(cResult)
