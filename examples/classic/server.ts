/**
 * A TypeScript classic server (the tutorial's `python bin/rpyc_classic.py`):
 *
 *   npx tsx examples/classic/server.ts          # INFO:SLAVE/18812:server started on [127.0.0.1]:18812
 *
 * It is what `npx rpyc-classic` serves (threaded mode), in five lines: `ClassicService` with full
 * trust — whoever can reach the port can run anything in this process. `PORT=0` picks a free port.
 */
import { ThreadedServer } from "effect-rpyc"
import { ClassicService } from "effect-rpyc/ClassicService"

const port = Number(process.env.PORT ?? 18812)
// logLevel "info": RPyC's server lines on stderr (by default a script logs warnings and errors only)
await new ThreadedServer(ClassicService, { port, logLevel: "info" }).start()
