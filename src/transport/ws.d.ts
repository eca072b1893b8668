/**
 * The part of the `ws` package (installed with @effect/platform-node, which ships no typings for it)
 * that `NodeWebSocket` and `WebSocketServer` use. Nothing here appears in a public signature.
 */
declare module "ws" {
  import type { EventEmitter } from "node:events"
  import type { IncomingMessage } from "node:http"
  import type { Duplex } from "node:stream"

  /** A `ws` WebSocket: the browser interface, plus stopping and restarting reading. */
  export interface NodeWebSocket extends globalThis.WebSocket {
    pause(): void
    resume(): void
    terminate(): void
  }

  export interface ClientOptions {
    readonly ca?: string | Array<string> | undefined
    readonly cert?: string | Array<string> | undefined
    readonly key?: string | Array<string> | undefined
    readonly passphrase?: string | undefined
    readonly rejectUnauthorized?: boolean | undefined
    readonly servername?: string | undefined
    readonly checkServerIdentity?: ((host: string, cert: unknown) => Error | undefined) | undefined
    readonly maxPayload?: number | undefined
    readonly headers?: Readonly<Record<string, string>> | undefined
    readonly perMessageDeflate?: boolean | undefined
    readonly handshakeTimeout?: number | undefined
  }

  export const WebSocket: {
    new(address: string, protocols?: string | Array<string>, options?: ClientOptions): NodeWebSocket
  }

  export interface ServerOptions {
    readonly noServer?: boolean | undefined
    readonly maxPayload?: number | undefined
    readonly perMessageDeflate?: boolean | undefined
    readonly clientTracking?: boolean | undefined
    readonly handleProtocols?: ((protocols: Set<string>, request: IncomingMessage) => string | false) | undefined
  }

  export class WebSocketServer extends EventEmitter {
    constructor(options: ServerOptions)
    handleUpgrade(
      request: IncomingMessage,
      socket: Duplex,
      head: Buffer,
      callback: (ws: NodeWebSocket, request: IncomingMessage) => void
    ): void
    close(callback?: (error?: Error) => void): void
  }
}
