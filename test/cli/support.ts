/**
 * The `rpyc-classic` and `rpyc-registry` CLIs from their TypeScript sources, as child processes
 * (test/support/Child.ts).
 */
import * as Path from "node:path"
import { type Command, ROOT, run, spawn, tsx } from "../support/Child.js"

/** src/cli/rpyc-classic.ts. */
export const CLI = Path.join(ROOT, "src/cli/rpyc-classic.ts")

/** `node --import tsx src/cli/rpyc-classic.ts ...args`. */
export const cli = (...args: ReadonlyArray<string>): Command => tsx(CLI, ...args)

/**
 * How long to wait for the CLI's output or exit: generous, because a cold `node --import tsx` start
 * of the CLI takes ~4 s on an idle 2-CPU machine, and over a minute when the machine is loaded.
 */
export const CHILD_TIMEOUT = "150 seconds"

/** Per-test timeout of tests that start the CLI. */
export const TIMEOUT = 300_000

/** The CLI with `args` as a child (waits default to `CHILD_TIMEOUT`). */
export const spawnCli = (...args: ReadonlyArray<string>) => spawn(...cli(...args), { timeout: CHILD_TIMEOUT })

/** Runs the CLI with `args` to completion. */
export const runCli = (...args: ReadonlyArray<string>) => run(...cli(...args), { timeout: CHILD_TIMEOUT })

/** src/cli/rpyc-registry.ts. */
export const REGISTRY_CLI = Path.join(ROOT, "src/cli/rpyc-registry.ts")

/** The registry CLI with `args` as a child (waits default to `CHILD_TIMEOUT`). */
export const spawnRegistry = (...args: ReadonlyArray<string>) =>
  spawn(...tsx(REGISTRY_CLI, ...args), { timeout: CHILD_TIMEOUT })

/** Runs the registry CLI with `args` to completion. */
export const runRegistry = (...args: ReadonlyArray<string>) =>
  run(...tsx(REGISTRY_CLI, ...args), { timeout: CHILD_TIMEOUT })
