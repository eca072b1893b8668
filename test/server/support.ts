/**
 * Fixtures of the server-mode tests (test/server/fixtures). Children, the PKI, temporary directories
 * and polling are test/support's (Child.ts, Pki.ts, TempDir.ts, Eventually.ts).
 */
import * as Path from "node:path"
import { ROOT } from "../support/Child.js"

/** A file of test/server/fixtures. */
export const fixture = (name: string): string => Path.join(ROOT, "test/server/fixtures", name)

/** Per-test timeout: these tests start several `node --import tsx` processes (slow on a loaded machine). */
export const TIMEOUT = 300_000
