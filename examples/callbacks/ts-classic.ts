/**
 * The tutorial's callbacks (Part 4) against effect-rpyc's own classic server: the remote side maps
 * a *local* function over a remote list.
 *
 *   npx rpyc-classic                                        # the TS classic server (port 18812)
 *   npx tsx examples/callbacks/ts-classic.ts                # PORT to change the port
 *
 * JavaScript's `Array.prototype.map` cannot wait for a remote callback, so the server-side `map`
 * is an async function that awaits each call. Each call of `g` is a request to this process,
 * served while we wait for the result.
 */
import * as rpyc from "effect-rpyc"
import * as classic from "effect-rpyc/classic"

const port = Number(process.env.PORT ?? 18812)
const c = await classic.connect("localhost", port)

const rlist = await c.eval("byRef(Array.from({ length: 10 }, (_, i) => i))") // this is a remote list
const show = (xs: ReadonlyArray<unknown>) => `[${xs.join(", ")}]`
console.log("rlist:", show(await rpyc.Operations.obtain(rlist) as Array<number>))

// the remote map: calls f on each element, in order, awaiting each (remote) call
await c.execute(`
  async function map(f, xs) {
    const out = []
    for (const x of xs) out.push(await f(x))
    return out
  }
`)
const map = await c.eval("map")

function f(x: number) {
  return x ** 3
}
console.log(show(await map(f, rlist))) // calling the remote map with the local function f as an argument

// and to better understand the previous example
function g(x: number) {
  console.log("hi, this is g, executing locally", x)
  return x ** 3
}
console.log(show(await map(g, rlist)))

await c.close()
