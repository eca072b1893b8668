/**
 * Port helpers, for the few peers that cannot be told to listen on port 0 themselves (Python's
 * registry server) and for the one test bound to a fixed port (the seed tutorial's client.py).
 * Everything else listens on port 0 and reports the port it got.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Dgram from "node:dgram"
import * as Net from "node:net"

/** A `kind` port that was free on `host` a moment ago: bind port 0, read it back, close. */
export const freePort = (kind: "udp" | "tcp", host = "0.0.0.0"): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    if (kind === "udp") {
      const socket = Dgram.createSocket("udp4")
      socket.bind(0, host, () => {
        const port = socket.address().port
        socket.close(() => resume(Effect.succeed(port)))
      })
    } else {
      const server = Net.createServer()
      server.listen(0, host, () => {
        const port = (server.address() as Net.AddressInfo).port
        server.close(() => resume(Effect.succeed(port)))
      })
    }
  })

const canBind = (host: string, port: number): Promise<true | NodeJS.ErrnoException> =>
  new Promise((resolve) => {
    const server = Net.createServer()
    server.once("error", (e: NodeJS.ErrnoException) => resolve(e))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
  })

const canConnect = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const sock = Net.createConnection({ host, port })
    sock.setTimeout(1000, () => {
      sock.destroy()
      resolve(false)
    })
    sock.once("connect", () => {
      sock.destroy()
      resolve(true)
    })
    sock.once("error", () => resolve(false))
  })

/**
 * Fails with a clear message if something already listens on `port` of localhost (127.0.0.1 or
 * ::1), for the tests that must use a fixed port. A port that is busy only briefly (someone
 * running the example by hand) is waited for, up to `waitMillis` (default 10 s).
 */
export const ensurePortFree = (port: number, waitMillis = 10_000): Effect.Effect<void, Error> =>
  Effect.tryPromise({
    try: async () => {
      const v4 = await canBind("127.0.0.1", port)
      if (v4 !== true) throw v4
      if (await canConnect("::1", port)) throw new Error("something accepts connections on [::1]")
    },
    catch: (cause) =>
      new Error(
        `port ${port} on localhost is not free (${
          cause instanceof Error ? cause.message : String(cause)
        }): this test runs the seed's unchanged client.py, which always connects to localhost:${port}; stop whatever listens there and rerun`
      )
  }).pipe(
    Effect.retry({ schedule: Schedule.spaced("500 millis"), times: Math.max(0, Math.ceil(waitMillis / 500)) })
  )
