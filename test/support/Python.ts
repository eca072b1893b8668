/**
 * The Python availability rule of every interop suite, in one place:
 *
 * - the Python used is `$RPYC_PYTHON` if set, else `/usr/bin/python3` (where Debian's python3-rpyc
 *   lives; a `python3` on PATH may be a pyenv shim without it);
 * - tests that need Python RPyC **skip** when that Python cannot `import rpyc`, unless `CI=true`,
 *   where they **run** and fail loudly: CI must never pass by skipping interop;
 * - `RPYC_SKIP_PYTHON=1` skips them all without looking for Python: the fast developer loop
 *   (`npm run test:unit`) sets it; CI never does.
 */
import { describe } from "@effect/vitest"
import * as ChildProcess from "node:child_process"

/** The Python interpreter the interop tests run. */
export const PYTHON: string = process.env.RPYC_PYTHON ?? "/usr/bin/python3"

const skipPython = process.env.RPYC_SKIP_PYTHON === "1"

/** Whether `PYTHON` can import rpyc. */
export const hasPythonRpyc: boolean = !skipPython && (() => {
  try {
    return ChildProcess.spawnSync(PYTHON, ["-c", "import rpyc"], { stdio: "ignore", timeout: 30_000 }).status === 0
  } catch {
    return false
  }
})()

/** Whether the Python tests run: Python RPyC is there, or CI insists. */
export const runPythonTests: boolean = !skipPython && (hasPythonRpyc || process.env.CI === "true")

/** `describe` for tests that need Python RPyC. */
export const describePython: typeof describe = runPythonTests ? describe : (describe.skip as typeof describe)

/** The message of the loud failure under CI when Python RPyC is missing. */
export const pythonMissing = `${PYTHON} -c "import rpyc" failed: install Python RPyC 5.3 (python3-rpyc)`

/** The Python to spawn; throws `pythonMissing` when it cannot import rpyc (CI without Python RPyC). */
export const requirePython = (): string => {
  if (!hasPythonRpyc) throw new Error(pythonMissing)
  return PYTHON
}
