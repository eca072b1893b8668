/**
 * @effect/rpc over a TCP socket (`RpcServer.layerProtocolSocketServer` / `RpcClient.layerProtocolSocket`,
 * MessagePack serialization), through the suite's same harness.
 *
 *   node effect-rpc-peer.mjs server | client
 *
 * @effect/rpc has no callbacks (a server cannot call the client), so the callback path is n/a.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as SocketServer from "@effect/platform/SocketServer"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { type Driver, fail, HOST, runClient, send, serveControl, type Session, timedAddsEffect } from "./harness.js"

class Bench extends RpcGroup.make(
  Rpc.make("add", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number }),
  Rpc.make("upload", { payload: { bytes: Schema.Uint8ArrayFromSelf }, success: Schema.Number }),
  Rpc.make("list", {
    payload: { n: Schema.Number },
    success: Schema.Array(Schema.Tuple(Schema.Number, Schema.Number, Schema.String))
  })
) {}

/** MessagePack as `layerMsgPack`, with room for the 64 MiB frame (the default buffer is 16 MiB). */
const serialization = RpcSerialization.layerMsgPackWith({ useRecords: true, maxBufferSize: 256 * 1024 * 1024 })

const handlers = Bench.toLayer({
  add: ({ a, b }) => Effect.succeed(a + b),
  upload: ({ bytes }) => Effect.succeed(bytes.length),
  list: ({ n }) =>
    Effect.sync(() => {
      const out = new Array<readonly [number, number, string]>(n)
      for (let i = 0; i < n; i++) out[i] = [i, i + 1, "ab"]
      return out
    })
})

const server = () => {
  const live = RpcServer.layer(Bench).pipe(
    Layer.provide(handlers),
    Layer.provide(RpcServer.layerProtocolSocketServer),
    Layer.provide(serialization),
    Layer.provideMerge(NodeSocketServer.layer({ host: HOST, port: 0, backlog: 4096, noDelay: true }))
  )
  const program = Effect.gen(function*() {
    const socketServer = yield* SocketServer.SocketServer
    const address = socketServer.address
    send({ ready: true, port: address._tag === "TcpAddress" ? address.port : undefined })
    serveControl({})
    return yield* Effect.never
  })
  Effect.runFork(Effect.provide(program, live))
}

/** A client whose socket lives as long as the enclosing scope (`Effect.provide(layer)` would close it at once). */
const makeClient = (port: number) =>
  Effect.gen(function*() {
    const protocol = yield* Layer.build(
      RpcClient.layerProtocolSocket().pipe(
        Layer.provide(NodeSocket.layerNet({ host: HOST, port, noDelay: true })),
        Layer.provide(serialization)
      )
    )
    return yield* RpcClient.make(Bench).pipe(Effect.provide(protocol))
  })

const open = async (port: number): Promise<Session> => {
  const scope = Effect.runSync(Scope.make())
  const client = await Effect.runPromise(Scope.extend(makeClient(port), scope))
  let i = 0
  return {
    seq: (n) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let k = 0; k < n; k++, i++) {
          const r = yield* client.add({ a: i, b: 1 })
          if (r !== i + 1) fail("add", r)
        }
      })),
    pipelined: (n) =>
      Effect.runPromise(Effect.gen(function*() {
        const all = yield* Effect.all(Array.from({ length: n }, (_, k) => client.add({ a: k, b: 1 })), {
          concurrency: "unbounded"
        })
        if (all[n - 1] !== n) fail("add", all[n - 1])
      })),
    callback: undefined,
    upload: (bytes) =>
      Effect.runPromise(Effect.gen(function*() {
        const r = yield* client.upload({ bytes })
        if (r !== bytes.length) fail("upload", r)
      })),
    list: (size) =>
      Effect.runPromise(Effect.gen(function*() {
        const r = yield* client.list({ n: size })
        if (r.length !== size) fail("list", r)
      })),
    loop: (deadline, maxCalls, onCall) =>
      Effect.runPromise(timedAddsEffect((a, b) => client.add({ a, b }), deadline, maxCalls, onCall)),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const driver: Driver = {
  open,
  once: (port) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const client = yield* makeClient(port)
      const r = yield* client.add({ a: 1, b: 1 })
      if (r !== 2) fail("add", r)
    })))
}

if (process.argv[2] === "server") server()
else runClient(driver)
