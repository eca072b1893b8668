/**
 * Protocol configuration: RPyC's `DEFAULT_CONFIG` (PROTOCOL.md §4) in camelCase, with the same
 * defaults. Each side enforces its own config on the requests it receives; nothing is negotiated.
 *
 * @since 0.1.0
 */

/**
 * RPyC's 80 "safe" dunder names (PROTOCOL.md §3.5), reachable under the default config.
 *
 * @since 0.1.0 @category constants
 */
export const SAFE_ATTRS: ReadonlySet<string> = new Set([
  "__abs__",
  "__add__",
  "__and__",
  "__bool__",
  "__cmp__",
  "__contains__",
  "__delitem__",
  "__delslice__",
  "__div__",
  "__divmod__",
  "__doc__",
  "__enter__",
  "__eq__",
  "__exit__",
  "__float__",
  "__floordiv__",
  "__format__",
  "__ge__",
  "__getitem__",
  "__getslice__",
  "__gt__",
  "__hash__",
  "__hex__",
  "__iadd__",
  "__iand__",
  "__idiv__",
  "__ifloordiv__",
  "__ilshift__",
  "__imod__",
  "__imul__",
  "__index__",
  "__int__",
  "__invert__",
  "__ior__",
  "__ipow__",
  "__irshift__",
  "__isub__",
  "__iter__",
  "__itruediv__",
  "__ixor__",
  "__le__",
  "__len__",
  "__length_hint__",
  "__long__",
  "__lshift__",
  "__lt__",
  "__mod__",
  "__mul__",
  "__ne__",
  "__neg__",
  "__new__",
  "__next__",
  "__nonzero__",
  "__oct__",
  "__or__",
  "__pos__",
  "__pow__",
  "__radd__",
  "__rand__",
  "__rdiv__",
  "__rdivmod__",
  "__repr__",
  "__rfloordiv__",
  "__rlshift__",
  "__rmod__",
  "__rmul__",
  "__ror__",
  "__rpow__",
  "__rrshift__",
  "__rshift__",
  "__rsub__",
  "__rtruediv__",
  "__rxor__",
  "__setitem__",
  "__setslice__",
  "__str__",
  "__sub__",
  "__truediv__",
  "__xor__",
  "next"
])

/**
 * The per-connection protocol configuration.
 *
 * Keys that only make sense inside CPython (`instantiateCustomExceptions`,
 * `importCustomExceptions`, `instantiateOldstyleExceptions`, the `propagate…Locally` switches,
 * `bindThreads`) are accepted so that configs port over unchanged; they have no effect on a
 * JavaScript peer, which never instantiates remote exception classes.
 *
 * @since 0.1.0 @category models
 */
export interface ProtocolConfig {
  allowSafeAttrs: boolean
  allowExposedAttrs: boolean
  allowPublicAttrs: boolean
  allowAllAttrs: boolean
  safeAttrs: ReadonlySet<string>
  exposedPrefix: string
  allowGetattr: boolean
  allowSetattr: boolean
  allowDelattr: boolean
  allowPickle: boolean
  includeLocalTraceback: boolean
  includeLocalVersion: boolean
  instantiateCustomExceptions: boolean
  importCustomExceptions: boolean
  instantiateOldstyleExceptions: boolean
  propagateSystemExitLocally: boolean
  propagateKeyboardInterruptLocally: boolean
  logExceptions: boolean
  /** Connection id used in logs; `undefined` → `conn1`, `conn2`, … */
  connid: string | undefined
  /** What the server's authenticator (or TLS) established about the peer. */
  credentials: unknown
  /** Server side: `[local address, peer address]`. */
  endpoints: readonly [string, string] | undefined
  /**
   * RPyC's `logger`: where handler exceptions are logged at debug level. Connections log through
   * Effect's `Logger` (replace it with `Logger.replace`); a function given here also receives each
   * debug line.
   */
  logger: ((line: string) => void) | undefined
  /** Seconds to wait for a synchronous reply; `null` waits forever. */
  syncRequestTimeout: number | null
  /** Called with the remote root just before CLOSE is sent (may do remote calls). */
  beforeClosed: ((root: unknown) => unknown) | undefined
  /** Swallow errors raised while closing. */
  closeCatchall: boolean
  bindThreads: boolean

  // Limits (additions of effect-rpyc): what one peer may make this side do. A request over a limit
  // fails alone; a message over a limit closes only the connection that sent it.

  /** Most decimal digits of an int received (CPython's `sys.get_int_max_str_digits()` default). */
  maxIntDigits: number
  /** Most brine values (items of tuples included) in one received message. */
  maxValuesPerMessage: number
  /** Most object references (netrefs to make, ids to look up) in one received message. */
  maxRefsPerMessage: number
  /** Most requests of the peer in progress at once (handlers still running); more fail at once. */
  maxConcurrentRequests: number
  /** Seconds an unanswered DEL is remembered; a peer that never answers them costs nothing after. */
  delReplyTimeout: number
  /** Unsent bytes above which this side stops reading from the peer (until they fall below the low mark). */
  outgoingHighWaterMark: number
  /** Unsent bytes below which reading resumes. */
  outgoingLowWaterMark: number
}

/**
 * The keys of `ProtocolConfig` that RPyC does not have: this side's limits.
 *
 * @since 0.1.0 @category constants
 */
export const LIMIT_KEYS: ReadonlyArray<keyof ProtocolConfig> = [
  "maxIntDigits",
  "maxValuesPerMessage",
  "maxRefsPerMessage",
  "maxConcurrentRequests",
  "delReplyTimeout",
  "outgoingHighWaterMark",
  "outgoingLowWaterMark"
]

/**
 * RPyC's defaults, and this side's limits.
 *
 * @since 0.1.0 @category constants
 */
export const DEFAULT_CONFIG: Readonly<ProtocolConfig> = Object.freeze({
  allowSafeAttrs: true,
  allowExposedAttrs: true,
  allowPublicAttrs: false,
  allowAllAttrs: false,
  safeAttrs: SAFE_ATTRS,
  exposedPrefix: "exposed_",
  allowGetattr: true,
  allowSetattr: false,
  allowDelattr: false,
  allowPickle: false,
  includeLocalTraceback: true,
  includeLocalVersion: true,
  instantiateCustomExceptions: false,
  importCustomExceptions: false,
  instantiateOldstyleExceptions: false,
  propagateSystemExitLocally: false,
  propagateKeyboardInterruptLocally: true,
  logExceptions: true,
  connid: undefined,
  maxIntDigits: 4300,
  maxValuesPerMessage: 1_000_000,
  maxRefsPerMessage: 10_000,
  maxConcurrentRequests: 10_000,
  delReplyTimeout: 60,
  outgoingHighWaterMark: 16 * 1024 * 1024,
  outgoingLowWaterMark: 4 * 1024 * 1024,
  credentials: undefined,
  endpoints: undefined,
  logger: undefined,
  syncRequestTimeout: 30,
  beforeClosed: undefined,
  closeCatchall: false,
  bindThreads: false
})

/**
 * What a caller may pass: any subset of the keys.
 *
 * @since 0.1.0 @category models
 */
export type ConfigInput = { readonly [K in keyof ProtocolConfig]?: ProtocolConfig[K] | undefined }

/**
 * The overrides RPyC's `SlaveService.on_connect` applies to a classic connection: full trust.
 *
 * @since 0.1.0 @category constants
 */
export const CLASSIC_OVERRIDES: ConfigInput = Object.freeze({
  allowAllAttrs: true,
  allowPickle: true,
  allowGetattr: true,
  allowSetattr: true,
  allowDelattr: true,
  allowExposedAttrs: false,
  importCustomExceptions: true,
  instantiateCustomExceptions: true,
  instantiateOldstyleExceptions: true
})

/**
 * A fresh, mutable config: the defaults overlaid with `input` (undefined values are ignored).
 *
 * @since 0.1.0 @category constructors
 */
export const make = (...inputs: ReadonlyArray<ConfigInput | undefined>): ProtocolConfig => {
  const config: ProtocolConfig = { ...DEFAULT_CONFIG }
  for (const input of inputs) if (input) apply(config, input)
  return config
}

/**
 * Overlays `input` onto `config` in place (how `SlaveService` turns on classic mode).
 *
 * @since 0.1.0 @category combinators
 */
export const apply = (config: ProtocolConfig, input: ConfigInput): ProtocolConfig => {
  for (const key of Object.keys(input) as Array<keyof ProtocolConfig>) {
    const value = input[key]
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value
  }
  return config
}
