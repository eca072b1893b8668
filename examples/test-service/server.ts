/**
 * The seed's first example, server side: `npx tsx examples/test-service/server.ts`
 * Then run `npx tsx examples/test-service/client.ts` (prints 12), or the seed's unchanged Python
 * client: `python3 examples/test-service/client.py`.
 */
import { Service, ThreadedServer } from "effect-rpyc"

class TestService extends Service {
  exposed_test(num: number) {
    return 1 + num
  }
}

const port = Number(process.env.PORT ?? 9999)
const server = new ThreadedServer(TestService, { port, autoRegister: false })
await server.start()
