/**
 * Serves MyService on port 18861 (override with PORT).
 *
 *   npx tsx examples/my-service/server.ts            # a fresh MyService per connection (PORT=0: any port)
 *   npx tsx examples/my-service/server.ts shared     # one MyService instance shared by all connections
 *   npx tsx examples/my-service/server.ts partial    # classpartial(MyService, "bonjour"): fresh per connection, with arguments
 *   npx tsx examples/my-service/server.ts public     # protocolConfig { allowPublicAttrs: true }
 */
import { classpartial, ThreadedServer } from "effect-rpyc"
import { MyService } from "./service.js"

const mode = process.argv[2] ?? "class"
const port = Number(process.env.PORT ?? 18861)

const server = mode === "shared"
  ? new ThreadedServer(new MyService("shared hello"), { port }) // note: an instance
  : mode === "partial"
  ? new ThreadedServer(classpartial(MyService, "bonjour"), { port })
  : mode === "public"
  ? new ThreadedServer(MyService, { port, protocolConfig: { allowPublicAttrs: true } })
  : new ThreadedServer(MyService, { port })

await server.start()
console.error(`MyService (${mode}) on port ${server.port}`)
