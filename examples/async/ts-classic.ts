/**
 * The tutorial's asynchronous operation (Part 5) against effect-rpyc's own classic server, whose
 * `sleep` is JavaScript's setTimeout.
 *
 *   npx rpyc-classic                                       # the TS classic server (port 18812)
 *   npx tsx examples/async/ts-classic.ts                   # PORT, SLEEP (seconds, default 15)
 */
import * as rpyc from "effect-rpyc"
import { async_, ExpiredError, timed } from "effect-rpyc/Async"
import * as classic from "effect-rpyc/classic"

const port = Number(process.env.PORT ?? 18812)
const seconds = Number(process.env.SLEEP ?? 15)
const c = await classic.connect("localhost", port)

// a setTimeout-based sleep on the server: the server replies once the Promise settles
await c.execute(
  "function sleep(seconds) { return new Promise((resolve) => setTimeout(() => resolve(null), seconds * 1000)) }"
)
const sleep = await c.eval("sleep")
await sleep(0.5) // await for half a second, until the call returns

const asleep = async_(sleep)
const res = asleep(seconds)
console.log(String(res)) // <AsyncResult object (pending) …>
console.log("ready:", res.ready) // false
await res.wait()
console.log("ready:", res.ready) // true
console.log("value:", await res.value) // null

// JavaScript's int(): BigInt parses an integer literal or throws a SyntaxError
const aint = async_(c.builtins.BigInt)
const x = aint("8")
await x.wait()
console.log("ready:", x.ready, "error:", x.error, "value:", await x.value) // true false 8

const y = aint("this is not a valid number")
await y.wait()
console.log("ready:", y.ready, "error:", y.error) // true true
try {
  await y.value
} catch (e) {
  if (!(e instanceof rpyc.RemoteError)) throw e
  console.log(`raised ${e.name}: ${e.args[0]}`) // SyntaxError: Cannot convert this is not a valid number to a BigInt
}

const tsleep = timed(sleep, 0.2)
try {
  await tsleep(1).value
} catch (e) {
  if (!(e instanceof ExpiredError)) throw e
  console.log(`expired: ${e.message}`)
}

await c.close()
