/**
 * The registry on Redis: a real `redis-server` started by each test on a free loopback port, TS
 * servers registering through the Redis registrar, clients discovering through it, and the UDP/TCP
 * registry servers keeping their table in Redis. 127.0.0.1 only.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Client from "../../src/client/Client.js"
import * as RedisRegistry from "../../src/registry/RedisRegistry.js"
import type * as Registry from "../../src/registry/Registry.js"
import * as RegistryClient from "../../src/registry/RegistryClient.js"
import * as RegistryServer from "../../src/registry/RegistryServer.js"
import * as Server from "../../src/server/Server.js"
import { Service } from "../../src/service/Service.js"
import { spawn, tsx } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { freePort } from "../support/Ports.js"
import { requirePython, runPythonTests } from "../support/Python.js"
import { describeRedis, runRedisTests, startRedis } from "../support/Redis.js"
import { PY_REGISTERED_SERVER } from "./support.js"

const LOOPBACK = "127.0.0.1"
const TIMEOUT = 60_000

class CalcService extends Service {
  static override ALIASES = ["calc", "adder"]
  exposed_add(a: number, b: number) {
    return a + b
  }
}

const byPort = (addresses: ReadonlyArray<Registry.Address>) => [...addresses].sort((a, b) => a.port - b.port)
const at = (...ports: ReadonlyArray<number>) =>
  ports.map((port) => ({ host: LOOPBACK, port })).sort((a, b) => a.port - b.port)

describeRedis("Redis registrar", () => {
  it.scopedLive(
    "two servers register all aliases; discover, listServices and connectByService find them; close removes",
    () =>
      Effect.gen(function*() {
        const redis = yield* startRedis()
        const registrar = yield* RedisRegistry.make({ url: redis.url })
        assert.strictEqual(registrar.mode, "Redis")
        assert.deepStrictEqual(registrar.target, { host: LOOPBACK, port: redis.port })
        const first = yield* Server.make(CalcService, { port: 0, registrar })
        const second = yield* Effect.scoped(Effect.gen(function*() {
          const second = yield* Server.make(CalcService, { port: 0, registrar })
          const both = at(first.port!, second.port!)
          // registration runs in the server's background: wait until both landed
          const found = yield* eventually(registrar.discover("CALC"), (s) => s.length === 2)
          assert.deepStrictEqual(byPort(found), both)
          // aliases are upper-cased, as RPyC's registry does, and looked up case-blind
          assert.deepStrictEqual(byPort(yield* registrar.discover("adder")), both)

          // the documented layout: a set of names, a sorted set of host:port per name scored by expiry
          const { client, keys } = registrar
          assert.deepStrictEqual((yield* Effect.promise(() => client.smembers(keys.services))).sort(), [
            "ADDER",
            "CALC"
          ])
          assert.strictEqual(keys.service("CALC"), "rpyc:registry:service:CALC")
          const members = yield* Effect.promise(() => client.zrange(keys.service("CALC"), 0, -1))
          assert.deepStrictEqual(members.sort(), both.map((a) => `${a.host}:${a.port}`).sort())
          const ttl = yield* Effect.promise(() => client.pttl(keys.service("CALC")))
          assert.isAbove(ttl, 0) // the key expires by itself once nobody refreshes it

          // through the Layer, as an app uses it
          const viaLayer = yield* Effect.gen(function*() {
            const names = yield* RegistryClient.listServices()
            const onLoopback = yield* RegistryClient.listServices(LOOPBACK)
            const elsewhere = yield* RegistryClient.listServices("192.0.2.1")
            const servers = yield* RegistryClient.discover("calc")
            const conn = yield* Client.connectByService("adder")
            const sum = yield* conn.root.add(20, 22)
            return { names, onLoopback, elsewhere, servers, sum }
          }).pipe(Effect.provide(RegistryClient.layerRedis({ url: redis.url })))
          assert.deepStrictEqual(viaLayer.names, ["ADDER", "CALC"])
          assert.deepStrictEqual(viaLayer.onLoopback, ["ADDER", "CALC"])
          assert.deepStrictEqual(viaLayer.elsewhere, [])
          assert.deepStrictEqual(byPort(viaLayer.servers), both)
          assert.strictEqual(viaLayer.sum, 42)
          return second
        }))
        // the second server's scope closed: it unregistered, under every alias
        assert.deepStrictEqual(yield* registrar.discover("CALC"), at(first.port!))
        assert.deepStrictEqual(yield* registrar.discover("ADDER"), at(first.port!))
        assert.notStrictEqual(second.port, first.port)
      }),
    TIMEOUT
  )

  it.scopedLive(
    "an entry expires once its server stops refreshing it; a refreshed one stays",
    () =>
      Effect.gen(function*() {
        const redis = yield* startRedis()
        // re-registered every quarter of the TTL
        const registrar = yield* RedisRegistry.make({ url: redis.url, ttl: "3 seconds", prefix: "short:" })
        assert.strictEqual(Duration.toMillis(registrar.reregisterInterval), 750)
        const live = yield* Server.make(CalcService, { port: 0, registrar })
        yield* eventually(registrar.discover("CALC"), (s) => s.length === 1)
        // a server that registered once and then went silent (crashed: no UNREGISTER)
        const silent = yield* freePort("tcp", LOOPBACK)
        yield* registrar.register(["calc", "lonely"], silent)
        assert.deepStrictEqual(byPort(yield* registrar.discover("CALC")), at(live.port!, silent))
        assert.deepStrictEqual(yield* registrar.list(), Option.some(["ADDER", "CALC", "LONELY"]))
        // expiry is seen when reading: no sweeper needed
        const after = yield* eventually(registrar.discover("CALC"), (s) => !s.some((a) => a.port === silent), {
          what: "the silent server's entry expired"
        })
        // the live server kept refreshing past its TTL
        assert.deepStrictEqual(after, at(live.port!))
        assert.deepStrictEqual(yield* registrar.discover("LONELY"), [])
        assert.deepStrictEqual(yield* registrar.list(), Option.some(["ADDER", "CALC"]))
        assert.strictEqual(
          yield* Effect.promise(() => registrar.client.sismember(registrar.keys.services, "LONELY")),
          0
        )
      }),
    TIMEOUT
  )

  it.scopedLive(
    "registrars with different prefixes share a Redis without seeing each other",
    () =>
      Effect.gen(function*() {
        const redis = yield* startRedis()
        const a = yield* RedisRegistry.make({ url: redis.url, prefix: "a:" })
        const b = yield* RedisRegistry.make({ url: redis.url, prefix: "b:", host: "192.0.2.7" })
        yield* a.register(["echo"], 1001)
        yield* b.register(["echo"], 1002)
        assert.deepStrictEqual(yield* a.discover("ECHO"), [{ host: LOOPBACK, port: 1001 }])
        // `host` names the address servers are registered under
        assert.deepStrictEqual(yield* b.discover("ECHO"), [{ host: "192.0.2.7", port: 1002 }])
        yield* b.unregister(1002)
        assert.deepStrictEqual(yield* b.discover("ECHO"), [])
        assert.deepStrictEqual(yield* a.discover("ECHO"), [{ host: LOOPBACK, port: 1001 }])
      }),
    TIMEOUT
  )

  it.scopedLive(
    "a Redis that does not answer fails discovery as Unreachable, naming Redis and the reason",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort("tcp", LOOPBACK)
        const registrar = yield* RedisRegistry.make({ url: `redis://${LOOPBACK}:${port}`, timeout: "500 millis" })
        const error = yield* registrar.discover("CALC").pipe(Effect.flip)
        assert.strictEqual(error._tag, "RegistryError")
        assert.include(["Timeout", "Connect"], error.reason)
        assert.include(error.message, `Redis at ${LOOPBACK}:${port}`)
        const discovery = yield* RegistryClient.discover("CALC").pipe(
          Effect.flip,
          Effect.provideService(RegistryClient.Registrar, registrar)
        )
        assert.strictEqual(discovery.reason, "Unreachable")
      }),
    TIMEOUT
  )
})

describeRedis("UDP/TCP registry servers on Redis", () => {
  it.scopedLive(
    "what is registered over UDP lands in Redis; UDP and TCP queries answer from Redis",
    () =>
      Effect.gen(function*() {
        const redis = yield* startRedis()
        const added: Array<string> = []
        const state = yield* RedisRegistry.makeState({
          url: redis.url,
          allowListing: true,
          onServiceAdded: (name, address) => Effect.sync(() => added.push(`${name} ${address.host}:${address.port}`))
        })
        const udp = yield* RegistryServer.makeUdpServer({ port: 0, state })
        const tcp = yield* RegistryServer.makeTcpServer({ port: 0, state })
        const overUdp = yield* RegistryClient.makeUdp({ host: LOOPBACK, port: udp.address.port })
        const overTcp = yield* RegistryClient.makeTcp({ host: LOOPBACK, port: tcp.address.port })
        const direct = yield* RedisRegistry.make({ url: redis.url })

        // an RPyC-style REGISTER over UDP, recorded under the source address the registry saw
        yield* overUdp.register(["echo"], 23456)
        assert.deepStrictEqual(yield* direct.discover("ECHO"), [{ host: LOOPBACK, port: 23456 }])
        assert.deepStrictEqual(added, [`ECHO ${LOOPBACK}:23456`])
        // a server registered straight in Redis is answered over UDP and TCP
        yield* direct.register(["calc"], 23457)
        assert.deepStrictEqual(yield* overUdp.discover("calc"), [{ host: LOOPBACK, port: 23457 }])
        assert.deepStrictEqual(yield* overTcp.discover("CALC"), [{ host: LOOPBACK, port: 23457 }])
        assert.deepStrictEqual(yield* overTcp.list(), Option.some(["CALC", "ECHO"]))
        assert.deepStrictEqual(yield* overUdp.list("192.0.2.1"), Option.some([]))
        const table = yield* state.snapshot
        assert.deepStrictEqual(Array.from(table.keys()).sort(), ["CALC", "ECHO"])

        // UNREGISTER over UDP (fire-and-forget) removes it from Redis
        yield* overUdp.unregister(23456)
        yield* eventually(direct.discover("ECHO"), (s) => s.length === 0)
        assert.deepStrictEqual(yield* direct.list(), Option.some(["CALC"]))
      }),
    TIMEOUT
  )

  it.scopedLive("listing stays off unless allowed, as with the in-memory table", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis()
      const state = yield* RedisRegistry.makeState({ url: redis.url })
      const tcp = yield* RegistryServer.makeTcpServer({ port: 0, state })
      const overTcp = yield* RegistryClient.makeTcp({ host: LOOPBACK, port: tcp.address.port })
      yield* overTcp.register(["echo"], 23456)
      assert.deepStrictEqual(yield* overTcp.list(), Option.none())
      assert.deepStrictEqual(yield* overTcp.discover("echo"), [{ host: LOOPBACK, port: 23456 }])
    }), TIMEOUT)
})

describeRedis("rpyc-registry --redis", () => {
  it.scopedLive("keeps what is registered over UDP in Redis, with --timeout as the TTL", () =>
    Effect.gen(function*() {
      const redis = yield* startRedis()
      const cli = yield* spawn(
        ...tsx("src/cli/rpyc-registry.ts", "--port", "0", "--listing", "--timeout", "60", "--redis", redis.url)
      )
      const port = Number((yield* cli.waitFor(/UDP registry listening on 127\.0\.0\.1:(\d+)/))[1])
      yield* cli.waitFor(new RegExp(`keeping the registry in Redis at redis://127\\.0\\.0\\.1:${redis.port}`))
      const overUdp = yield* RegistryClient.makeUdp({ host: LOOPBACK, port })
      yield* overUdp.register(["echo"], 23456)
      const direct = yield* RedisRegistry.make({ url: redis.url })
      assert.deepStrictEqual(yield* direct.discover("ECHO"), [{ host: LOOPBACK, port: 23456 }])
      const ttl = yield* Effect.promise(() => direct.client.pttl(direct.keys.service("ECHO")))
      assert.isAbove(ttl, 50_000)
      assert.isAtMost(ttl, 60_000)
      assert.deepStrictEqual(yield* overUdp.list(), Option.some(["ECHO"]))
    }), 90_000)
})

describe.skipIf(!runRedisTests || !runPythonTests)("Python RPyC through a registry on Redis", () => {
  it.scopedLive(
    "a Python ThreadedServer(auto_register=True) registers over UDP; a TS client finds it in Redis",
    () =>
      Effect.gen(function*() {
        const redis = yield* startRedis()
        const state = yield* RedisRegistry.makeState({ url: redis.url })
        const udp = yield* RegistryServer.makeUdpServer({ port: 0, state })
        const python = yield* spawn(requirePython(), ["-c", PY_REGISTERED_SERVER, String(udp.address.port)])
        const rpcPort = Number((yield* python.waitFor(/listening (\d+)/))[1])
        const conn = yield* Effect.gen(function*() {
          const found = yield* eventually(
            RegistryClient.discover("PYA").pipe(Effect.either),
            (e) => e._tag === "Right"
          )
          assert.deepStrictEqual(found._tag === "Right" ? found.right : undefined, [{ host: LOOPBACK, port: rpcPort }])
          return yield* Client.connectByService("pyanswer")
        }).pipe(Effect.provide(RegistryClient.layerRedis({ url: redis.url })))
        assert.strictEqual(yield* conn.root.get_answer(), 43)
        assert.strictEqual(yield* conn.root.get_service_name(), "PYANSWER")
      }),
    90_000
  )
})
