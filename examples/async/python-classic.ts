/**
 * The tutorial's asynchronous operation (Part 5) against Python's classic server.
 *
 *   rpyc_classic --host 127.0.0.1                          # Python RPyC's classic server (port 18812)
 *   npx tsx examples/async/python-classic.ts               # PORT, SLEEP (seconds, default 15)
 */
import * as rpyc from "effect-rpyc"
import { async_, ExpiredError, timed } from "effect-rpyc/Async"
import * as classic from "effect-rpyc/classic"

const port = Number(process.env.PORT ?? 18812)
const seconds = Number(process.env.SLEEP ?? 15)
const c = await classic.connect("localhost", port)
const time = c.modules.time

console.log(String(await rpyc.Operations.repr(time.sleep))) // <built-in function sleep>
await time.sleep(0.5) // await for half a second, until the call returns

// wrap the remote function with async_(), which turns the invocation asynchronous
const asleep = async_(time.sleep)
console.log(String(asleep)) // async_(<RemoteOp …sleep>)

// invoking async functions yields an AsyncResult rather than a value
const res = asleep(seconds)
console.log(String(res)) // <AsyncResult object (pending) …>
console.log("ready:", res.ready) // false
console.log("ready:", res.ready) // false
// ... after `seconds` seconds ...
await res.wait()
console.log("ready:", res.ready) // true
console.log("value:", await res.value) // null (Python's None)
console.log(String(res)) // <AsyncResult object (ready) …>

const aint = async_(c.builtins.int) // async wrapper for the remote type int

// a valid call
const x = aint("8")
console.log(String(x))
await x.wait()
console.log("ready:", x.ready, "error:", x.error, "value:", await x.value) // true false 8

// and now with an exception
const y = aint("this is not a valid number")
await y.wait()
console.log("ready:", y.ready, "error:", y.error) // true true
try {
  await y.value
} catch (e) {
  if (!(e instanceof rpyc.RemoteError)) throw e
  console.log(`raised ${e.name}: ${e.args[0]}`) // ValueError: invalid literal for int() with base 10: …
}

// expiry: the result gives up waiting (Python keeps sleeping; its late reply is dropped)
const tsleep = timed(time.sleep, 0.2)
try {
  await tsleep(1).value
} catch (e) {
  if (!(e instanceof ExpiredError)) throw e
  console.log(`expired: ${e.message}`)
}

await c.close()
