/**
 * The tutorial's registry section, on this machine: a registry, two services that register
 * themselves, discovery and connecting by service name.
 *
 *   npx tsx examples/registry/main.ts
 *
 * Everything stays on loopback: the registry listens on 127.0.0.1 and the servers register by
 * unicast to 127.0.0.1 (see the README for unicast vs broadcast). The registry port is 18811 (RPyC's
 * default) unless REGISTRY_PORT says otherwise.
 */
import { Client, RegistryClient, RegistryServer, Server, Service } from "effect-rpyc"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schedule from "effect/Schedule"

class MyService extends Service {
  exposed_get_answer() {
    return 42
  }
}

class SomeOtherService extends Service {
  static override ALIASES = ["floop", "bloop"]
  exposed_get_answer() {
    return "floop!"
  }
}

const main = Effect.gen(function*() {
  // 1. a UDP registry (what `npx rpyc-registry` runs), with listing enabled
  const registry = yield* RegistryServer.makeUdpServer({
    host: "127.0.0.1",
    port: Number(process.env.REGISTRY_PORT ?? 18811),
    allowListing: true
  })
  yield* Console.log(`registry on ${registry.address.host}:${registry.address.port}`)

  // 2. two servers registering by unicast to that registry
  const registrar = yield* RegistryClient.makeUdp({ host: "127.0.0.1", port: registry.address.port })
  yield* Server.make(MyService, { port: 0, registrar })
  yield* Server.make(SomeOtherService, { port: 0, registrar })

  // 3. discovery, as rpyc.discover("MY") — retried briefly while the servers' first registration lands
  const discover = (name: string) =>
    RegistryClient.discover(name).pipe(
      Effect.retry(Schedule.intersect(Schedule.spaced("50 millis"), Schedule.recurs(40)))
    )
  yield* Console.log(`discover("MY")    ->`, yield* discover("MY"))
  yield* Console.log(`discover("bloop") ->`, yield* discover("bloop"))
  yield* Console.log(`listServices()    ->`, yield* RegistryClient.listServices())

  // 4. connect by service name, as rpyc.connect_by_service("MY"); like every client, it finds out
  //    which RPyC (5.x or 6.x) each server speaks by itself (wireVersion "auto", one probe per server)
  const c2 = yield* Client.connectByService("MY")
  yield* Console.log(`connect_by_service("MY").root.get_answer() ->`, yield* c2.root.get_answer())
  const c3 = yield* Client.connectByService("FLOOP")
  yield* Console.log(`connect_by_service("FLOOP").root.get_answer() ->`, yield* c3.root.get_answer())
}).pipe(
  // the discovery helpers ask the registrar in the context
  Effect.provideServiceEffect(
    RegistryClient.Registrar,
    RegistryClient.makeUdp({ host: "127.0.0.1", port: Number(process.env.REGISTRY_PORT ?? 18811) })
  ),
  Effect.scoped,
  Logger.withMinimumLogLevel(LogLevel.Warning)
)

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
