/**
 * The errors of the connection engine, as tagged classes with a `reason`.
 *
 * - `RemoteError`: the peer's handler raised; carries what vinegar carried (module, class name,
 *   args, attrs, remote traceback).
 * - `ConnectionClosed`: the call could not complete because the connection is (or became) closed.
 * - `RequestTimeout`: no reply within `syncRequestTimeout` (the late reply is dropped).
 * - `ProtocolError`: the peer sent bytes that are not RPyC, or a value could not be encoded.
 * - `PythonException`: thrown by local code to choose the Python exception class the peer sees.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * An exception raised by the peer while serving one of our requests.
 *
 * `name` is the Python class name (`ValueError`, `AttributeError`, …) and `module` its module
 * (`builtins` for Python's own exceptions). `remoteTraceback` is the formatted traceback text the
 * peer sent (or `"<traceback denied>"`).
 *
 * @since 0.1.0 @category errors
 */
export class RemoteError extends Data.TaggedError("RemoteError")<{
  readonly module: string
  readonly name: string
  readonly args: ReadonlyArray<unknown>
  readonly attrs: ReadonlyArray<readonly [string, unknown]>
  readonly remoteTraceback: string
}> {
  /** The RPyC version the peer reported (`_remote_version`), if any. */
  get remoteVersion(): string | undefined {
    const v = this.attrs.find(([k]) => k === "_remote_version")?.[1]
    return typeof v === "string" ? v : undefined
  }
  /** `module.name`, or just `name` for builtins. */
  get qualifiedName(): string {
    return this.module === "builtins" ? this.name : `${this.module}.${this.name}`
  }
  /**
   * What Python's `str(exc)` gives for a remote exception: the exception's text, then the remote
   * traceback. The class name is not repeated here: `String(error)` is `ValueError: text…`.
   */
  override get message(): string {
    const text = this.args.length === 1
      ? String(this.args[0])
      : this.args.length === 0
      ? ""
      : `(${this.args.map(String).join(", ")})`
    return this.remoteTraceback === ""
      ? text
      : `${text}\n\n========= Remote Traceback (1) =========\n${this.remoteTraceback}`
  }
  /** `module.Class: text…` (just `Class: text…` for builtins), read once. */
  override toString(): string {
    return `${this.qualifiedName}: ${this.message}`
  }
  /** Whether this is the given Python exception class (`"builtins.KeyError"` or just `"KeyError"`). */
  is(name: string): boolean {
    return name === this.name || name === `${this.module}.${this.name}`
  }
}

/**
 * The remote end raised `StopIteration` (sent on the wire as the bare int 1).
 *
 * @since 0.1.0 @category constructors
 */
export const stopIteration = (): RemoteError =>
  new RemoteError({ module: "builtins", name: "StopIteration", args: [], attrs: [], remoteTraceback: "" })

/**
 * The connection is closed: locally, by the peer, or because the peer broke the protocol.
 *
 * @since 0.1.0 @category errors
 */
export class ConnectionClosed extends Data.TaggedError("ConnectionClosed")<{
  readonly reason: "Closed" | "PeerClosed" | "ProtocolError" | "Transport"
  readonly detail?: string | undefined
}> {
  constructor(args: { readonly reason: ConnectionClosed["reason"]; readonly detail?: string | undefined }) {
    // made for every connection that ends, deep in the fiber runtime: a stack trace would cost more
    // than the rest of the teardown and only ever show the engine's internals
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    try {
      super(args)
    } finally {
      Error.stackTraceLimit = limit
    }
  }
  override get message(): string {
    return this.detail ? `connection closed (${this.reason}): ${this.detail}` : `connection closed (${this.reason})`
  }
}

/**
 * A synchronous request got no reply within its timeout. Nothing is sent to the peer (RPyC has no
 * cancel message); a late reply is dropped.
 *
 * @since 0.1.0 @category errors
 */
export class RequestTimeout extends Data.TaggedError("RequestTimeout")<{
  readonly reason: "Expired"
  readonly handler: string
  readonly seq: number
  readonly timeoutMillis: number
}> {
  override get message(): string {
    return `result expired: ${this.handler} request #${this.seq} got no reply within ${this.timeoutMillis} ms`
  }
}

/**
 * The peer's bytes are not valid RPyC, or a local value cannot be put on the wire.
 *
 * - `Frame` / `Envelope` / `Brine` / `Label` / `WireVersion`: inbound data broke the protocol; the
 *   connection is closed.
 * - `Encode`: a local value could not be encoded; only that call fails.
 *
 * @since 0.1.0 @category errors
 */
export class ProtocolError extends Data.TaggedError("ProtocolError")<{
  readonly reason: "Frame" | "Envelope" | "Brine" | "Label" | "WireVersion" | "Encode"
  readonly detail: string
}> {
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

/**
 * Everything a remote operation can fail with.
 *
 * @since 0.1.0 @category errors
 */
export type RemoteFailure = RemoteError | ConnectionClosed | RequestTimeout | ProtocolError

/**
 * Throw this from local code to send the peer a specific Python exception class, e.g.
 * `throw new PythonException("KeyError", "no such key")`. The engine itself uses it for policy
 * denials (`AttributeError`) and lookups (`KeyError`, `IndexError`).
 *
 * @since 0.1.0 @category errors
 */
export class PythonException extends Error {
  readonly pyArgs: ReadonlyArray<unknown>
  constructor(readonly pyName: string, ...args: ReadonlyArray<unknown>) {
    super(args.length === 0 ? pyName : args.map(String).join(", "))
    this.name = pyName
    this.pyArgs = args
  }
}

/** @since 0.1.0 @category constructors */
export const attributeError = (message: string): PythonException => new PythonException("AttributeError", message)
/** @since 0.1.0 @category constructors */
export const keyError = (key: unknown): PythonException => new PythonException("KeyError", key)
/** @since 0.1.0 @category constructors */
export const indexError = (message: string): PythonException => new PythonException("IndexError", message)
/** @since 0.1.0 @category constructors */
export const typeError = (message: string): PythonException => new PythonException("TypeError", message)
/** @since 0.1.0 @category constructors */
export const valueError = (message: string): PythonException => new PythonException("ValueError", message)
