/**
 * The tutorial's callbacks (Part 4): the remote `map` called with a *local* function, against
 * Python's classic server.
 *
 *   rpyc_classic --host 127.0.0.1            # Python RPyC's classic server (port 18812)
 *   npx tsx examples/callbacks/python-classic.ts           # PORT to change the port
 *
 * Python calls `g` once per element; each call is a request to this process, served while we
 * wait for `list(...)` — the "executing locally" lines print here, not on the server.
 */
import * as rpyc from "effect-rpyc"
import * as classic from "effect-rpyc/classic"

const port = Number(process.env.PORT ?? 18812)
const c = await classic.connect("localhost", port)
const builtins = c.builtins // Python's builtins module

const rlist = await builtins.list(await builtins.range(10)) // this is a remote list
console.log("rlist:", String(await rpyc.Operations.repr(rlist)))

function f(x: number) {
  return x ** 3
}
// calling the remote map with the local function f as an argument; Python 3's map is lazy, so the
// remote list() drives it
const cubes = await builtins.list(await builtins.map(f, rlist))
console.log(String(await rpyc.Operations.repr(cubes)))

// and to better understand the previous example
function g(x: number) {
  console.log("hi, this is g, executing locally", x)
  return x ** 3
}
const again = await builtins.list(await builtins.map(g, rlist))
console.log(String(await rpyc.Operations.repr(again)))

await c.close()
