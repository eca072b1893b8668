/**
 * The entry point of a forking server's worker process (spawned by `Forking.make` as
 * `node [loader flags] ForkWorker.js <service location as JSON>`; not for direct use).
 *
 * It loads the service, tells the parent it has started, waits for the one socket the parent hands
 * over, serves it, and exits when the connection closes or on SIGTERM (closing the connection first).
 * A worker still waiting exits at once on SIGTERM or when the parent goes away. Its log lines go to
 * the parent over the IPC channel, which logs them under the server's logger.
 *
 * This module runs the worker when it is loaded: it is an entry point, not a library module.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Net from "node:net"
import * as ForkProtocol from "./ForkProtocol.js"
import * as WorkerServe from "./WorkerServe.js"

const main = async (location: ForkProtocol.ServiceLocation): Promise<void> => {
  if (process.send === undefined) throw new Error("ForkWorker: no IPC channel (start it through Forking.make)")
  const spec = await ForkProtocol.loadService(location)
  let serving = false
  // a spare worker whose server closes before it got a connection: nothing to clean up
  process.once("SIGTERM", () => process.exit(0))
  process.once("disconnect", () => {
    if (!serving) process.exit(0)
  })
  process.once("message", (message: ForkProtocol.ServeMessage, raw: Net.Socket | undefined) => {
    serving = true
    process.removeAllListeners("SIGTERM")
    const fiber = Effect.runFork(WorkerServe.serveSocket(spec, message, raw))
    // SIGTERM/SIGINT (the server closing): close the connection cleanly, then exit
    const onSignal = () => fiber.unsafeInterruptAsFork(fiber.id())
    process.once("SIGTERM", onSignal)
    process.once("SIGINT", onSignal)
    fiber.addObserver(() => {
      // flush the last log lines, then go (user code may have left timers or handles open)
      const exit = () => process.exit(0)
      if (process.connected) process.send!({ type: "exiting" } satisfies ForkProtocol.WorkerMessage, () => exit())
      else exit()
    })
  })
  process.send({ type: "started" } satisfies ForkProtocol.WorkerMessage)
}

main(JSON.parse(process.argv[2] ?? "null") as ForkProtocol.ServiceLocation).catch((error) => {
  console.error(error)
  process.exit(1)
})
