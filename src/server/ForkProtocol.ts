/**
 * What a forking server (`Forking`) and its worker processes (`ForkWorker`) say to each other over
 * the IPC channel, and how each side finds the service. Kept apart from both because the worker
 * module runs when it is loaded: the parent must not import it.
 *
 * Everything crosses as JSON (the channel's serialization), the socket as a handle next to the
 * {@link ServeMessage}.
 *
 * @since 0.1.0
 */
import type * as LogLevel from "effect/LogLevel"
import { pathToFileURL } from "node:url"
import type * as Config from "../internal/base/Config.js"
import type { WireVersion } from "../internal/wire/Message.js"
import type * as Service from "../service/Service.js"
import type * as Tls from "../transport/Tls.js"

/**
 * Where a worker loads its service from: a `file:` URL and the name of the export.
 *
 * @since 0.1.0 @category models
 */
export interface ServiceLocation {
  readonly module: string
  readonly export: string
}

/**
 * Messages from a worker to the parent: it has loaded the service, a log line, it is about to exit.
 *
 * @since 0.1.0 @category models
 */
export type WorkerMessage =
  | { readonly type: "started" }
  | { readonly type: "log"; readonly level: LogLevel.Literal; readonly message: string }
  | { readonly type: "exiting" }

/**
 * The message (sent with the socket handle) telling a worker what to serve.
 *
 * @since 0.1.0 @category models
 */
export interface ServeMessage {
  readonly type: "serve"
  readonly loggerName: string
  readonly minLogLevel: LogLevel.Literal
  /** From {@link serializeConfig}. */
  readonly config: Record<string, unknown>
  readonly wireVersion: WireVersion | "auto"
  readonly maxFrameSize: number | undefined
  /** Set when the worker must do the TLS handshake itself. */
  readonly tls: Tls.ServerSettings | undefined
  readonly endpoints: readonly [string, string]
}

/**
 * A module given as a path or URL, as the `file:` URL `import()` takes.
 *
 * @since 0.1.0 @category services
 */
export const moduleUrl = (module: string | URL): string =>
  module instanceof URL ? module.href : module.startsWith("file:") ? module : pathToFileURL(module).href

/**
 * Imports the service a location names; rejects when the module has no such export.
 *
 * @since 0.1.0 @category services
 */
export const loadService = (location: ServiceLocation): Promise<Service.ServiceSpec> =>
  import(location.module).then((mod: Record<string, unknown>) => {
    const spec = mod[location.export]
    if ((typeof spec !== "function" && typeof spec !== "object") || spec === null) {
      throw new Error(`${location.module} has no service export named ${location.export}`)
    }
    return spec as Service.ServiceSpec
  })

/**
 * Protocol config as JSON: functions cannot cross and are dropped, a `Set` (`safeAttrs`) goes as a
 * list; `credentials` and `endpoints` are the worker's own to set.
 *
 * @since 0.1.0 @category config
 */
export const serializeConfig = (config: Config.ConfigInput | undefined): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(config ?? {})) {
    if (key === "credentials" || key === "endpoints" || value === undefined || typeof value === "function") continue
    out[key] = value instanceof Set ? { $set: [...value] } : value
  }
  return out
}

/**
 * The inverse of {@link serializeConfig}.
 *
 * @since 0.1.0 @category config
 */
export const deserializeConfig = (config: Record<string, unknown>): Config.ConfigInput => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(config)) {
    const set = (value as { $set?: unknown } | null)?.$set
    out[key] = Array.isArray(set) ? new Set(set) : value
  }
  return out as Config.ConfigInput
}

/**
 * The message telling a pooled server's worker to drain: serve the connections it has until they
 * close or `timeoutMillis` pass, then close the rest and exit. Sockets sent afterwards are refused.
 *
 * @since 0.1.0 @category models
 */
export interface DrainMessage {
  readonly type: "drain"
  readonly timeoutMillis: number
}
