/**
 * Issue 3, item 7: hostile peers against a TS server with the default config — a TS client, a
 * raw client writing forged frames (Channel.encodeFrame + Message.encodePayload), and a Python
 * RPyC 5.3 client (fixtures/hostile_client.py). The JavaScript escape hatches, names that are not
 * exposed, assignment to the root, DEL / CALL / GETATTR / INSPECT on id_packs that were never
 * exported (or were exported to another connection) are all refused with AttributeError /
 * KeyError, and the server keeps serving.
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Netref from "../../src/internal/netref/Netref.js"
import type * as Message from "../../src/internal/wire/Message.js"
import * as Operations from "../../src/netref/Operations.js"
import { Service } from "../../src/service/Service.js"
import { TIMEOUT } from "../support/Child.js"
import { connect, remote as fx, serve } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { exceptionClass, rawClient } from "../support/RawPeer.js"
import { Handler, Label, live, MsgType, pythonClient, remoteError } from "./support.js"

class Widget {
  exposed_poke() {
    return "poked"
  }
}

class MyService extends Service {
  readonly widget = new Widget()
  exposed_answer() {
    return 42
  }
  exposed_the_real_answer_though = 43
  get_question() {
    return "secret question"
  }
  exposed_widget() {
    return this.widget
  }
}

const ref = (idPack: Message.IdPack) => [Label.LOCAL_REF, idPack] as const
const val = (v: unknown) => [Label.VALUE, v] as const

describe("hostile TS client against a TS server (default config)", () => {
  live(
    "escape hatches, hidden names and root assignment are AttributeErrors; the server keeps serving",
    () =>
      Effect.gen(function*() {
        const server = yield* serve(MyService)
        const conn = yield* connect(server.port!)
        const root: any = conn.root
        const e1 = yield* remoteError(root.constructor.constructor("return process")(), "AttributeError")
        assert.deepStrictEqual(e1.args, ["cannot access 'constructor'"])
        yield* remoteError(Operations.getattr(root, "__proto__"), "AttributeError")
        yield* remoteError(Operations.getattr(root, "__proto__").constructor, "AttributeError")
        yield* remoteError(root.__defineGetter__("answer", () => 1), "AttributeError")
        yield* remoteError(root.__lookupGetter__("answer"), "AttributeError")
        yield* remoteError(root.hasOwnProperty("answer"), "AttributeError")
        yield* remoteError(root.get_question, "AttributeError")
        yield* remoteError(root.get_question(), "AttributeError")
        // through a method netref: Function.prototype's call/apply/bind/constructor
        const method = yield* fx(root.answer)
        yield* remoteError(Operations.getattr(method, "constructor"), "AttributeError")
        yield* remoteError(Operations.getattr(method, "call"), "AttributeError")
        yield* remoteError(Operations.getattr(method, "bind"), "AttributeError")
        const set = yield* remoteError(Operations.setattr(root, "answer", 1), "AttributeError")
        assert.deepStrictEqual(set.args, ["access denied"])
        yield* remoteError(Operations.setattr(root, "__proto__", null), "AttributeError")
        yield* remoteError(Operations.delattr(root, "answer"), "AttributeError")
        // still serving, and the root is unchanged
        assert.strictEqual(yield* fx(root.answer()), 42)
        assert.strictEqual(yield* fx(root.the_real_answer_though), 43)
        const other = yield* connect(server.port!)
        assert.strictEqual(yield* fx((other.root as any).answer()), 42)
      })
  )
})

describe("forged frames from a raw client against a TS server (default config)", () => {
  live(
    "DEL / CALL / GETATTR / INSPECT on never-exported or foreign id_packs: KeyError; garbage: errors; still serving",
    () =>
      Effect.gen(function*() {
        const server = yield* serve(MyService)
        // a legitimate client holds a widget: its id_pack exists, but in *that* connection's table
        const honest = yield* connect(server.port!)
        const widget = yield* fx((honest.root as any).widget())
        const foreign = Netref.stateOf(widget)!.idPack

        const raw = yield* rawClient(server.port!)
        const getroot = yield* raw.call(Handler.GETROOT, val([]))
        assert.strictEqual(getroot.msg, MsgType.REPLY)
        const [label, ROOT] = getroot.args as [number, Message.IdPack]
        assert.strictEqual(label, Label.REMOTE_REF)
        const FORGED: Message.IdPack = ["builtins.function", ROOT[1], 987_654_321]

        const expectClass = (env: Message.Envelope, cls: string) =>
          assert.deepStrictEqual(exceptionClass(env), ["builtins", cls])
        // DEL with a forged id_pack, and with a foreign one
        expectClass(yield* raw.call(Handler.DEL, [Label.TUPLE, [ref(FORGED), val(1)]]), "KeyError")
        expectClass(yield* raw.call(Handler.DEL, [Label.TUPLE, [ref(foreign), val(1)]]), "KeyError")
        // CALL / GETATTR / CALLATTR on id_packs never exported to this connection
        expectClass(yield* raw.call(Handler.CALL, [Label.TUPLE, [ref(FORGED), val([]), val([])]]), "KeyError")
        expectClass(yield* raw.call(Handler.CALL, [Label.TUPLE, [ref(foreign), val([]), val([])]]), "KeyError")
        expectClass(yield* raw.call(Handler.GETATTR, [Label.TUPLE, [ref(foreign), val("poke")]]), "KeyError")
        expectClass(
          yield* raw.call(Handler.CALLATTR, [Label.TUPLE, [ref(foreign), val("poke"), val([]), val([])]]),
          "KeyError"
        )
        expectClass(yield* raw.call(Handler.INSPECT, val([FORGED])), "KeyError")
        // the escape hatches over the wire
        expectClass(
          yield* raw.call(Handler.CALLATTR, [Label.TUPLE, [
            ref(ROOT),
            val("constructor"),
            val(["return process"]),
            val([])
          ]]),
          "AttributeError"
        )
        expectClass(yield* raw.call(Handler.GETATTR, [Label.TUPLE, [ref(ROOT), val("__proto__")]]), "AttributeError")
        expectClass(yield* raw.call(Handler.GETATTR, [Label.TUPLE, [ref(ROOT), val("get_question")]]), "AttributeError")
        expectClass(
          yield* raw.call(Handler.SETATTR, [Label.TUPLE, [ref(ROOT), val("answer"), val(1)]]),
          "AttributeError"
        )
        // calling the root (not callable): TypeError
        expectClass(yield* raw.call(Handler.CALL, [Label.TUPLE, [ref(ROOT), val([]), val([])]]), "TypeError")
        // garbage: unknown handler, invalid label, malformed id_pack
        expectClass(yield* raw.call(99, val([])), "KeyError")
        expectClass(yield* raw.call(Handler.PING, [9, "x"]), "ValueError")
        expectClass(
          yield* raw.call(Handler.GETATTR, [Label.TUPLE, [[Label.LOCAL_REF, [1, 2]], val("x")]]),
          "ValueError"
        )
        // still serving: this connection, the honest one, a new one
        const answer = yield* raw.call(Handler.CALLATTR, [Label.TUPLE, [ref(ROOT), val("answer"), val([]), val([])]])
        assert.strictEqual(answer.msg, MsgType.REPLY)
        assert.deepStrictEqual(answer.args, [Label.VALUE, 42])
        assert.strictEqual(yield* fx(widget.poke()), "poked")
        assert.strictEqual(yield* fx((yield* connect(server.port!)).root.answer()), 42)
        assert.isFalse(raw.isClosed())
        const sconns = [...server.connections]
        assert.strictEqual(sconns.length, 3)
        assert.isTrue(sconns.every((c) => !c.closed))
      })
  )
})

describePython("hostile Python RPyC 5.3 client against a TS server (default config)", () => {
  live(
    "escape hatches, hidden names, root assignment, forged and foreign id_packs; the server keeps serving",
    () =>
      Effect.gen(function*() {
        const server = yield* serve(MyService)
        const honest = yield* connect(server.port!)
        const widget = yield* fx((honest.root as any).widget())
        const foreign = Netref.stateOf(widget)!.idPack
        const r = yield* pythonClient<Record<string, { value?: string; error?: string; str?: string }>>(
          "hostile_client.py",
          String(server.port),
          JSON.stringify(foreign.map((x) => typeof x === "bigint" ? Number(x) : x))
        )
        const refused = (name: string, cls: string) => {
          assert.strictEqual(r[name]?.error, cls, `${name}: ${JSON.stringify(r[name])}`)
        }
        refused("constructor", "AttributeError")
        refused("constructor_chain", "AttributeError")
        refused("proto", "AttributeError")
        refused("define_getter", "AttributeError")
        refused("lookup_getter", "AttributeError")
        refused("get_question", "AttributeError")
        refused("get_question_call", "AttributeError")
        refused("setattr_root", "AttributeError")
        refused("setattr_root_new", "AttributeError")
        refused("delattr_root", "AttributeError")
        refused("callattr_constructor", "AttributeError")
        refused("getattr_proto_raw", "AttributeError")
        refused("del_forged", "KeyError")
        refused("call_forged", "KeyError")
        refused("getattr_forged", "KeyError")
        refused("inspect_forged", "KeyError")
        refused("call_foreign", "KeyError")
        refused("del_foreign", "KeyError")
        refused("unknown_handler", "KeyError")
        refused("bad_label", "ValueError")
        assert.strictEqual(r.constructor_chain?.str, "cannot access 'constructor'")
        assert.strictEqual(r.setattr_root?.str, "access denied")
        assert.strictEqual(r.answer_after?.value, "42")
        assert.strictEqual(r.answer_new_connection?.value, "42")
        // the honest connection was not disturbed by the foreign DEL
        assert.strictEqual(yield* fx(widget.poke()), "poked")
      }),
    TIMEOUT
  )
})
