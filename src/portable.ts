/**
 * What both entries export (`effect-rpyc` for Node, `effect-rpyc/browser`): the connection, netrefs,
 * async operations, services, logging and errors, none of which reaches a `node:` module. An export
 * added here reaches both; one that needs Node belongs in `index.ts` only (the browser bundle check
 * fails otherwise).
 *
 * @since 0.1.0
 */
export * as Async from "./async/Async.js"
export * as Awaitable from "./Awaitable.js"
export * as Logging from "./Logging.js"
export * as Netref from "./netref/Netref.js"
export * as Operations from "./netref/Operations.js"
export * as RemoteOp from "./netref/RemoteOp.js"
export * as Config from "./protocol/Config.js"
export * as Connection from "./protocol/Connection.js"
export * as Errors from "./protocol/Errors.js"

export { async_, AsyncResult, buffiter, buffiterStream, ExpiredError, timed, withTimeout } from "./async/Async.js"
export { kwargs, type Remote, type RemoteOp as RemoteOperation } from "./netref/RemoteOp.js"
export { byRef } from "./protocol/Connection.js"
export {
  ConnectionClosed,
  ProtocolError,
  PythonException,
  RemoteError,
  type RemoteFailure,
  RequestTimeout
} from "./protocol/Errors.js"
export { classpartial, restricted, Service, VoidService } from "./service/Service.js"
