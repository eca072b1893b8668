/**
 * The errors of remote operations (`RemoteFailure`): a Python-side exception (`RemoteError`), a
 * closed connection, a timeout, a peer that broke the protocol; and `PythonException`, which a
 * service throws to raise a named Python exception in the peer.
 *
 * @since 0.1.0
 */
export {
  attributeError,
  ConnectionClosed,
  indexError,
  keyError,
  ProtocolError,
  PythonException,
  RemoteError,
  type RemoteFailure,
  RequestTimeout,
  typeError,
  valueError
} from "../internal/base/Errors.js"
