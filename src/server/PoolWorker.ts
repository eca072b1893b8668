/**
 * The entry point of a pooled server's worker process (spawned by `Pool.make` as
 * `node [loader flags] PoolWorker.js <service location as JSON>`; not for direct use).
 *
 * It loads the service, tells the parent it has started, and serves every socket the parent hands
 * over, each in its own fiber, for as long as it lives. On a drain message it refuses new sockets,
 * waits for its connections to close (up to the timeout the message gives), closes the rest cleanly
 * and exits. SIGTERM, SIGINT or the parent going away close every connection at once and exit.
 *
 * This module runs the worker when it is loaded: it is an entry point, not a library module.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Net from "node:net"
import * as ForkProtocol from "./ForkProtocol.js"
import * as WorkerServe from "./WorkerServe.js"

const main = async (location: ForkProtocol.ServiceLocation): Promise<void> => {
  if (process.send === undefined) throw new Error("PoolWorker: no IPC channel (start it through Pool.make)")
  const spec = await ForkProtocol.loadService(location)
  const serving = new Set<Fiber.RuntimeFiber<void>>()
  let draining = false
  let exiting = false
  let idle: (() => void) | undefined

  const exit = () => {
    if (exiting) return
    exiting = true
    // flush the last log lines, then go (user code may have left timers or handles open)
    if (process.connected) {
      process.send!({ type: "exiting" } satisfies ForkProtocol.WorkerMessage, () => process.exit(0))
    } else process.exit(0)
  }
  /** Closes every connection cleanly (interrupting its fiber closes it), then exits. */
  const closeAll = () => {
    const fibers = [...serving]
    if (fibers.length === 0) return exit()
    Effect.runFork(Fiber.interruptAll(fibers)).addObserver(exit)
  }

  process.once("SIGTERM", closeAll)
  process.once("SIGINT", closeAll)
  process.once("disconnect", closeAll)
  process.on(
    "message",
    (message: ForkProtocol.ServeMessage | ForkProtocol.DrainMessage, raw: Net.Socket | undefined) => {
      if (message.type === "drain") {
        if (draining) return
        draining = true
        if (serving.size === 0) return exit()
        const timer = setTimeout(closeAll, message.timeoutMillis)
        idle = () => {
          clearTimeout(timer)
          exit()
        }
        return
      }
      if (draining) {
        // the parent stopped accepting before this one reached us: it gets a plain hang-up
        raw?.destroy()
        return
      }
      const fiber = Effect.runFork(WorkerServe.serveSocket(spec, message, raw, { goodbye: true }))
      serving.add(fiber)
      fiber.addObserver(() => {
        serving.delete(fiber)
        if (draining && serving.size === 0) idle?.()
      })
    }
  )
  process.send({ type: "started" } satisfies ForkProtocol.WorkerMessage)
}

main(JSON.parse(process.argv[2] ?? "null") as ForkProtocol.ServiceLocation).catch((error) => {
  console.error(error)
  process.exit(1)
})
