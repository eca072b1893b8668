/**
 * The tutorial's Part 2 (netrefs): remote objects are proxies that forward every operation.
 *
 *   rpyc_classic                          # a Python classic server, or: npx rpyc-classic
 *   npx tsx examples/netrefs/main.ts      # PORT (default 18812)
 *
 * Works against either kind of classic server; only the snippets given to `execute` differ.
 *
 * - `type(conn.modules.sys.path)` is `<netref class 'rpyc.core.netref.builtins.list'>`: here
 *   `Operations.typeName(ref)` is the name the server gave the object, `builtins.list`.
 * - `isinstance(conn.modules.sys.path, list)` is `Operations.isinstance(ref, "list")`.
 * - Iterating, `len`, indexing and method calls are remote operations; `obtain` copies the value.
 * - A JavaScript array normally travels by value (as a tuple); `byRef(array)` sends it by
 *   reference, as a Python `list` — the TypeScript server's namespace offers `byRef` for that.
 */
import { Operations } from "effect-rpyc"
import * as classic from "effect-rpyc/classic"

const conn = await classic.connect("localhost", Number(process.env.PORT ?? classic.DEFAULT_SERVER_PORT))
console.log("server:", conn.peer)

// type(conn.modules.sys) / type(conn.modules.sys.path)
const sys = await conn.modules.sys
const path = await conn.modules.sys.path
console.log("type(sys.path):", Operations.typeName(path))
console.log("isinstance(sys.path, list):", await Operations.isinstance(path, "list"))
console.log("sys is a netref too:", Operations.typeName(sys) !== "")

// a list made remotely, held by reference
await conn.execute(conn.peer === "python" ? "xs = [3, 1, 2]" : "var xs = byRef([3, 1, 2])")
const xs = await Operations.getitem(conn.namespace, "xs")
console.log("type(xs):", Operations.typeName(xs))
console.log("len(xs):", await Operations.len(xs))
console.log("xs[0]:", await Operations.getitem(xs, 0))

// iteration: one remote request per item
const items: Array<unknown> = []
for await (const x of xs) items.push(x)
console.log("iterated:", items)

// mutation through the reference is seen by the server
await xs.append(4)
console.log("server sees:", await conn.eval(conn.peer === "python" ? "len(xs)" : "xs.length"))

// obtain: a local copy, by value
const copy = await classic.obtain(xs)
console.log("obtained:", copy, Array.isArray(copy))

await conn.close()
