/**
 * Broadcast discovery, only inside a network namespace this test creates (unshare --net with a veth
 * pair whose both ends stay in the namespace): nothing reaches a real network. Skipped where
 * namespaces cannot be created (not root, no CAP_SYS_ADMIN, no iproute2).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import { spawn } from "../support/Child.js"

const canUnshare = (() => {
  const r = ChildProcess.spawnSync("unshare", ["--net", "sh", "-c", "ip link add v0 type veth peer name v1"], {
    stdio: "ignore",
    timeout: 10_000
  })
  return r.status === 0
})()

const SETUP = [
  "set -e",
  "ip link set lo up",
  "ip link add v0 type veth peer name v1",
  "ip addr add 10.99.0.1/24 brd + dev v0",
  "ip link set v0 up",
  "ip link set v1 up",
  // 255.255.255.255 leaves through the default route: point it at the namespace's own veth
  "ip route add default dev v0",
  `exec "${process.execPath}" --import tsx test/registry/fixtures/broadcast-probe.ts`
].join("\n")

describe.skipIf(!canUnshare)("UDP registrar broadcasts (private network namespace)", () => {
  it.scopedLive("finds a registry through 255.255.255.255 and a subnet broadcast", () =>
    Effect.gen(function*() {
      const probe = yield* spawn("unshare", ["--net", "sh", "-c", SETUP])
      const exit = yield* probe.exit
      assert.strictEqual(exit.code, 0, probe.stderr())
      const result = JSON.parse(probe.stdout().trim().split("\n").pop()!)
      assert.strictEqual(result.target.host, "255.255.255.255")
      // the registry saw the broadcast coming from the namespace's own address
      assert.deepStrictEqual(result.viaLimited, [{ host: "10.99.0.1", port: 18861 }])
      assert.deepStrictEqual(result.viaDirected, [{ host: "10.99.0.1", port: 18861 }])
      assert.deepStrictEqual(result.names, ["BCAST"])
    }), 90_000)
})
