/**
 * The tutorial's Part 1 ("classic mode") against a TypeScript classic server:
 *
 *   npx rpyc-classic                                # or: npx tsx examples/classic/server.ts
 *   npx tsx examples/classic/session.ts             # PORT (default 18812)
 *
 * The server runs JavaScript: `eval` / `execute` take JavaScript, `modules` are what `require`
 * loads there, `builtins` is its `globalThis`, and `teleport` ships a function's source.
 */
import * as classic from "effect-rpyc/classic"

const conn = await classic.connect("localhost", Number(process.env.PORT ?? classic.DEFAULT_SERVER_PORT))

// print("hello world", file=conn.modules.sys.stdout): "hello world" appears on the server
await conn.modules.sys.stdout.write("hello world\n")

// the server's modules and builtins
console.log("server os:", (await conn.modules.os.platform()) === process.platform)
console.log("builtins:", await conn.builtins.Math.max(3, 7))

// eval and execute (JavaScript, in this connection's namespace on the server)
await conn.execute("const { PI } = Math")
console.log("eval:", await conn.eval("2*PI"))

// teleport: the function is defined in the server's namespace, under its name
function square(x: number) {
  return x ** 2
}
const fn = await conn.teleport(square)
console.log("fn(2):", await fn(2))
console.log("eval square(2):", await conn.eval("square(2)"))
console.log("namespace.square is fn:", (await conn.namespace.square) === fn)

// a closure cannot travel: its captured variables are not part of its source
const factor = 3
try {
  await conn.teleport((x: number) => x * factor)
} catch (error) {
  console.log("closure refused, captures:", (error as classic.TeleportError).names)
}

await conn.close()
