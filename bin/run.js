// Runs one of the package's CLIs from the built JavaScript in dist/ (what the published package
// ships). A checkout builds dist/ on `npm install` (the `prepare` script); if it is missing, say
// how to make it rather than failing with a module-not-found trace.
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** The parent pid of `pid` (Linux, from /proc), or undefined where that cannot be read. */
const parentOf = (pid) => {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")"
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  } catch {
    return undefined
  }
}

// Under `npx` (`npm exec`) the CLI runs as npm's grandchild: npm -> sh -c -> node. A process manager
// that signals only npm's pid would leave this process running: npm passes SIGTERM on to the shell
// alone, which dies without passing it on, and a SIGKILL reaches npm only. So, when npx ran this very
// command, shut down as on SIGTERM (closing the server, exit 0) once the shell or npm above it is
// gone. (A SIGINT sent to npm alone reaches the shell only, which waits: nothing stops.)
const startedByNpx = (name) =>
  process.env.npm_command === "exec" && process.env.npm_lifecycle_script?.replace(/^'(.*)'$/, "$1") === name

const followLauncher = () => {
  const parent = process.ppid
  const grandparent = parentOf(parent)
  const timer = setInterval(() => {
    const gone = process.ppid !== parent || (grandparent !== undefined && parentOf(parent) !== grandparent)
    if (gone) {
      clearInterval(timer)
      process.kill(process.pid, "SIGTERM")
    }
  }, 500)
  timer.unref()
}

export const run = async (name) => {
  const built = new URL(`../dist/cli/${name}.js`, import.meta.url)
  if (!existsSync(built)) {
    const root = fileURLToPath(new URL("..", import.meta.url))
    process.stderr.write(
      `${name}: the built CLI ${fileURLToPath(built)} is missing; run \`npm run build\` in ${root}\n`
    )
    process.exit(1)
  }
  if (startedByNpx(name)) followLauncher()
  await import(built.href)
}
