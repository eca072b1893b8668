/**
 * Fixtures of the interop tests (real Python RPyC 5.3 peers and spawned TS servers). The harness is
 * test/support's: children (Child.ts), peers (Peers.ts), the Python rule (Python.ts), ports (Ports.ts).
 */
import * as Path from "node:path"
import { ROOT } from "../support/Child.js"

/** A file of `test/interop/fixtures`. */
export const fixture = (name: string): string => Path.join(ROOT, "test/interop/fixtures", name)
