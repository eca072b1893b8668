/**
 * Serves the file monitor of RPyC's events tutorial on port 18871 (override with PORT; PORT=0
 * picks a free port, logged on stderr):
 *
 *   npx tsx examples/events/server.ts
 *
 * Then, in another terminal: `npx tsx examples/events/client.ts` (or
 * `/usr/bin/python3 examples/events/client.py`, with a Python that can `import rpyc`).
 */
import { ThreadedServer } from "effect-rpyc"
import { FileMonitorService } from "./service.js"

const port = Number(process.env.PORT ?? 18871)
// logLevel "info": RPyC's server lines (server started, accepted, welcome, goodbye); scripts log
// warnings and errors only by default
const server = new ThreadedServer(FileMonitorService, { port, logLevel: "info" })
await server.start()
