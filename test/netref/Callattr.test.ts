/**
 * CALLATTR calls a method on its object directly instead of making the bound method GETATTR
 * returns. Whatever the object, name, arguments and config, it must answer exactly what GETATTR
 * followed by CALL answers: the same value, or the same error.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Config from "../../src/internal/base/Config.js"
import { PythonException } from "../../src/internal/base/Errors.js"
import * as Policy from "../../src/internal/object/Policy.js"
import * as Pythonic from "../../src/internal/object/Pythonic.js"

class Counter {
  exposed_count = 0
  exposed_bump(by = 1) {
    this.exposed_count += by
    return this.exposed_count
  }
  exposed_self() {
    return this
  }
  exposed_options(a: number, options?: Record<string, unknown>) {
    return [a, options ?? null]
  }
  get exposed_viaGetter() {
    return () => "from a getter"
  }
  exposed_Inner = class Inner {
    constructor(readonly value: unknown) {}
  }
  exposed_value = 42
  hidden() {
    return "hidden"
  }
  __len__() {
    return 3
  }
}

class Hooked {
  _rpyc_getattr(name: string) {
    return (...args: Array<unknown>) => `${name}(${args.join(",")})`
  }
}

/** A value as data: an object by its class and own fields, a function by its name. */
const asData = (value: unknown): unknown => {
  if (typeof value === "function") return `function ${value.name}`
  if (Array.isArray(value)) return value.map(asData)
  if (value instanceof Object) {
    return [value.constructor.name, Object.entries(value).map(([k, v]) => [k, asData(v)])]
  }
  return value
}

/** An outcome comparable across the two paths: the value (a class instance by its fields) or the error. */
const outcome = (f: () => unknown): unknown => {
  try {
    const value = f()
    return { value: asData(value) }
  } catch (error) {
    return error instanceof PythonException
      ? { error: error.name, message: error.message }
      : { error: String(error) }
  }
}

type Request = [
  config: Config.ProtocolConfig,
  obj: object,
  name: unknown,
  args: Array<unknown>,
  kw: Array<[string, unknown]>
]

const viaGetattr = (...[config, obj, name, args, kw]: Request) =>
  outcome(() => Pythonic.call(Policy.getattr(config, obj, name), args, kw))

const viaCallattr = (...request: Request) => outcome(() => Policy.callattr(...request))

const NAMES = [
  "bump",
  "self",
  "options",
  "viaGetter",
  "Inner",
  "value",
  "count",
  "hidden",
  "__len__",
  "get",
  "keys",
  "items",
  "append",
  "missing",
  "constructor",
  "__proto__",
  "toString",
  "hasOwnProperty",
  "_rpyc_getattr",
  new TextEncoder().encode("bump"),
  7
]

const CALLS: Array<[Array<unknown>, Array<[string, unknown]>]> = [
  [[], []],
  [[2], []],
  [[1], [["flag", true]]]
]

const CONFIGS: Array<Config.ConfigInput> = [
  {},
  { allowPublicAttrs: true },
  { allowAllAttrs: true },
  { allowGetattr: false },
  { exposedPrefix: "" }
]

const objects = (): Record<string, object> => ({
  counter: new Counter(),
  dict: { get: "own data, not dict.get", a: 1 },
  emptyDict: { a: 1 },
  map: new Map<unknown, unknown>([["a", 1]]),
  list: [1, 2, 3],
  fn: function named() {
    return 1
  },
  hooked: new Hooked()
})

describe("CALLATTR answers what GETATTR then CALL answers", () => {
  it("over objects, names, arguments and configs", () => {
    let compared = 0
    for (const input of CONFIGS) {
      const config = Config.make(input)
      for (const name of NAMES) {
        for (const [args, kw] of CALLS) {
          // fresh objects on each side: a call may change its object (bump)
          const left = objects()
          const right = objects()
          for (const what of Object.keys(left)) {
            const label = `${what}.${String(name)}(${JSON.stringify(args)}, ${JSON.stringify(kw)}) ${
              JSON.stringify(input)
            }`
            assert.deepStrictEqual(
              viaCallattr(config, right[what]!, name, args, kw),
              viaGetattr(config, left[what]!, name, args, kw),
              label
            )
            compared++
          }
        }
      }
    }
    assert.strictEqual(compared, CONFIGS.length * NAMES.length * CALLS.length * Object.keys(objects()).length)
  })

  it("a method runs with its object as this, and keyword arguments arrive as one trailing object", () => {
    const config = Config.make({})
    const counter = new Counter()
    assert.strictEqual(Policy.callattr(config, counter, "bump", [5], []), 5)
    assert.strictEqual(counter.exposed_count, 5)
    assert.strictEqual(Policy.callattr(config, counter, "self", [], []), counter)
    assert.deepStrictEqual(Policy.callattr(config, counter, "options", [1], [["flag", true]]), [1, { flag: true }])
    const inner = Policy.callattr(config, counter, "Inner", ["v"], []) as { value: unknown }
    assert.strictEqual(inner.value, "v", "a class attribute is constructed, not called")
  })

  it("a dict's read methods come before what it inherits; its own data is not callable", () => {
    const config = Config.make({})
    assert.strictEqual(Policy.callattr(config, new Map([["a", 1]]), "get", ["a"], []), 1)
    assert.deepStrictEqual(Policy.callattr(config, { a: 1 }, "keys", [], []), ["a"])
    assert.throws(() => Policy.callattr(config, { get: 1 }, "get", ["a"], []), /not callable/)
  })
})
