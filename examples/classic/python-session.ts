/**
 * The tutorial's Part 1 ("classic mode") against Python's classic server:
 *
 *   rpyc_classic                                    # INFO:SLAVE/18812:server started on [127.0.0.1]:18812
 *   npx tsx examples/classic/python-session.ts      # PORT (default 18812)
 *
 * The server runs Python: `eval` / `execute` take Python, `modules` and `builtins` are Python's,
 * and `teleport` takes Python source text (a JavaScript function cannot run in Python).
 */
import { Operations } from "effect-rpyc"
import * as classic from "effect-rpyc/classic"

const conn = await classic.connect("localhost", Number(process.env.PORT ?? classic.DEFAULT_SERVER_PORT))

// print("hello world", file=conn.modules.sys.stdout): "hello world" appears on the server
await conn.modules.sys.stdout.write("hello world\n")

// the builtin namespace: the server's Python builtins (the tutorial reads a file with open())
const path = await conn.modules.tempfile.mktemp()
const w = await conn.builtin.open(path, "w")
await w.write("-----BEGIN NOTHING SECRET-----\n")
await w.close()
const f = await conn.builtin.open(path)
console.log("read:", JSON.stringify(await f.read()))
await f.close()
await conn.modules.os.remove(path)
console.log("builtins:", await conn.builtins.sum([1, 2, 3]))

// eval and execute (Python, in the server's namespace)
await conn.execute("import math")
console.log("eval:", await conn.eval("2*math.pi"))

// teleport: Python source, defined in the server's namespace under its name
const fn = await conn.teleport(`
  def square(x):
      return x ** 2
`)
console.log("fn(2):", await fn(2))
console.log("eval square(2):", await conn.eval("square(2)"))
console.log("namespace['square'] is fn:", (await Operations.getitem(conn.namespace, "square")) === fn)

await conn.close()
