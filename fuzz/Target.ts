/**
 * The service the fuzzer attacks when it starts its own server (fuzz/run.ts, test/hostile/Fuzz.test.ts):
 * a few exposed methods returning by-value results, by-reference lists, generators, plain objects,
 * functions, a Map and a class, so that the handlers have something real to operate on.
 *
 * Everything here is bounded: no method allocates or loops in proportion to an argument. (An
 * infinite generator would let BUFFITER with a count near 2^53 spin forever; that is a finding of
 * its own, see the hostile suite's report, not something to rediscover on every run.)
 */
import { byRef } from "../src/internal/engine/Engine.js"
import { Service } from "../src/service/Service.js"

/** A class the service hands out by reference (INSTANCECHECK, CALL on a class). */
export class Widget {
  constructor(readonly size: unknown = 1) {}
  exposed_grow(n: unknown) {
    return typeof n === "number" ? n + 1 : n
  }
  __len__() {
    return 3
  }
}

/** The exposed names of {@link FuzzService}, for the frame generator's GETATTR/CALLATTR names. */
export const EXPOSED = [
  "add",
  "echo",
  "numbers",
  "countdown",
  "thing",
  "adder",
  "table",
  "widget_class",
  "widget",
  "later",
  "boom",
  "callback",
  "get_service_name",
  "get_service_aliases"
] as const

export class FuzzService extends Service {
  static override ALIASES = ["FUZZ"]

  exposed_add(a: unknown, b: unknown) {
    return typeof a === "number" && typeof b === "number" ? a + b : [a, b]
  }
  exposed_echo(x: unknown) {
    return x
  }
  exposed_numbers() {
    return byRef([1, 2, 3, "four", [5, 6]])
  }
  exposed_countdown(n: unknown) {
    const from = typeof n === "number" && Number.isFinite(n) ? Math.min(Math.max(Math.trunc(n), 0), 64) : 8
    return (function*() {
      for (let i = from; i > 0; i--) yield i
    })()
  }
  exposed_thing() {
    return { name: "thing", value: 42, nested: { deep: true } }
  }
  exposed_adder(k: unknown) {
    return (x: unknown) => (typeof x === "number" && typeof k === "number" ? x + k : x)
  }
  exposed_table() {
    return new Map<unknown, unknown>([["a", 1], [2, "b"]])
  }
  exposed_widget_class() {
    return Widget
  }
  exposed_widget() {
    return new Widget(2)
  }
  exposed_later(x: unknown) {
    return new Promise((resolve) => setTimeout(() => resolve(x), 5))
  }
  exposed_boom(message: unknown) {
    throw new Error(String(message))
  }
  exposed_callback(f: unknown, x: unknown) {
    return typeof f === "function" ? f(x) : null
  }
}
