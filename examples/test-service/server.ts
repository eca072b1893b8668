/**
 * The seed's first example, server side: `npx tsx examples/test-service/server.ts`
 * Then run `npx tsx examples/test-service/client.ts` (prints 12), or the seed's unchanged Python
 * client: `/usr/bin/python3 examples/test-service/client.py` (any Python that can `import rpyc`; on
 * Debian, the system Python with the python3-rpyc package).
 */
import { Service, ThreadedServer } from "effect-rpyc"

class TestService extends Service {
  exposed_test(num: number) {
    return 1 + num
  }
}

const port = Number(process.env.PORT ?? 9999)
// logLevel "info": RPyC's server lines on stderr (by default a script logs warnings and errors only)
const server = new ThreadedServer(TestService, { port, autoRegister: false, logLevel: "info" })
await server.start()
