/**
 * The pending-request table against a plain Map as its model: any run of adds (growing seqs) and
 * takes (of pending seqs, of seqs never added, twice) leaves both with the same requests.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { PendingRequests } from "../../src/internal/engine/PendingRequests.js"

type Step = { readonly add: true } | { readonly take: number }

const step: FastCheck.Arbitrary<Step> = FastCheck.oneof(
  FastCheck.constant({ add: true as const }),
  FastCheck.nat(40).map((back) => ({ take: back }))
)

describe("PendingRequests", () => {
  it.prop("behaves as a Map from seq to request", [FastCheck.array(step, { maxLength: 200 })], ([steps]) => {
    const table = new PendingRequests<string>()
    const model = new Map<number, string>()
    let seq = 0
    for (const s of steps) {
      if ("add" in s) {
        table.add(seq, `request ${seq}`)
        model.set(seq, `request ${seq}`)
        seq++
      } else {
        // a seq counted back from the newest: pending, taken already, or never sent
        const target = seq - 1 - s.take
        const expected = model.get(target)
        model.delete(target)
        assert.strictEqual(table.take(target), expected, `take(${target})`)
      }
      assert.strictEqual(table.size, model.size)
    }
    const seen: Array<number> = []
    table.forEach((request, s) => {
      assert.strictEqual(request, model.get(s))
      seen.push(s)
    })
    assert.deepStrictEqual(seen, [...model.keys()].sort((a, b) => a - b))
    assert.deepStrictEqual(table.takeAll(), [...model.keys()].sort((a, b) => a - b).map((s) => `request ${s}`))
    assert.strictEqual(table.size, 0)
  })

  it("lets forEach take what it visits", () => {
    const table = new PendingRequests<number>()
    for (let s = 0; s < 5; s++) table.add(s, s * 10)
    const taken: Array<number> = []
    table.forEach((request, s) => {
      if (s % 2 === 0) taken.push(table.take(s)!)
      else assert.strictEqual(request, s * 10)
    })
    assert.deepStrictEqual(taken, [0, 20, 40])
    assert.strictEqual(table.size, 2)
    assert.strictEqual(table.take(4), undefined)
  })

  it("visits each request there was once when one is added while it runs", () => {
    const table = new PendingRequests<number>()
    for (let s = 0; s < 3; s++) table.add(s, s)
    const visits: Array<number> = []
    table.forEach((_, s) => {
      visits.push(s)
      if (s === 0) table.add(3, 3)
    })
    // the newest (2) moved among the older ones when 3 came: visited there, not a second time;
    // 3 came after the visit started and is not visited
    assert.deepStrictEqual(visits, [0, 1, 2])
    assert.strictEqual(table.size, 4)
  })
})
