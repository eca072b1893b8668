/**
 * Serves the file monitor of RPyC's events tutorial on port 18871 (override with PORT; PORT=0
 * picks a free port, logged on stderr):
 *
 *   npx tsx examples/events/server.ts
 *
 * Then, in another terminal: `npx tsx examples/events/client.ts` (or `python3 examples/events/client.py`).
 */
import { ThreadedServer } from "effect-rpyc"
import { FileMonitorService } from "./service.js"

const port = Number(process.env.PORT ?? 18871)
const server = new ThreadedServer(FileMonitorService, { port })
await server.start()
