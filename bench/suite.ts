/**
 * The benchmark suite of effect-rpyc (issues #13, performance, and #17, scale).
 *
 *   npx tsx bench/suite.ts                 the normal run (~10 minutes on 2 cores)
 *   npx tsx bench/suite.ts --quick         a smoke run for CI (< 2 minutes; asserts nothing about speed)
 *
 * Options (argv, or the env variable in brackets):
 *   --rounds N        rounds, interleaved across rows; figures are medians of rounds   [BENCH_ROUNDS] (3; quick 1)
 *   --seconds S       seconds per timed measurement                                    [BENCH_SECONDS] (1; quick 0.2)
 *   --only RE         rows whose id matches, e.g. `--only 'ts-ts|py-py'`                [BENCH_ONLY]
 *   --paths RE        paths whose id matches, e.g. `--paths 'seq|callback'`             [BENCH_PATHS]
 *   --json FILE       where to save the results (default bench/results/<date>.json)    [BENCH_JSON]
 *   --scale-max       add 5,000 and 10,000 connections to the scaling curve (needs `ulimit -n` >= ~20k)
 *   --cpu-prof        the TS (effect-rpyc) peers write V8 CPU profiles to bench/profiles/
 *                     (summarise one with `npx tsx bench/top-frames.ts FILE`)
 *   --via bundle|app|tsx  how the Node peers run: `bundle` (default) bundles bench/peers/*.ts with the
 *                     library's src/ by esbuild into bench/.cache/*.mjs (packages left in node_modules) and
 *                     runs them on plain `node`; `app` bundles the packages too, as an application is bundled
 *                     for deployment (only what is used is loaded: a smaller heap); `tsx` runs them through
 *                     tsx's loader
 *   --no-pin          do not pin servers to core 0 and clients to core 1 with taskset
 *   --verbose         echo the peers' stderr
 *
 * Every server and every client is a process of its own, spawned here (bench/peers/), pinned with
 * `taskset -c 0` (servers) and `taskset -c 1` (clients) where taskset exists. The suite talks to them
 * over their stdin/stdout; they exit when their stdin closes, and are killed on exit, error or Ctrl-C.
 * Every loop is bounded in time and count, every request of the suite to a peer has a timeout.
 */
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"

const BENCH = Path.dirname(fileURLToPath(import.meta.url))
const ROOT = Path.dirname(BENCH)
const PYTHON = "/usr/bin/python3"
const MiB = 1024 * 1024

// ---------------------------------------------------------------------------------------------
// options

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(`--${name}`)
const option = (name: string, env: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  if (i >= 0) {
    const v = argv[i + 1]
    if (v === undefined || v.startsWith("--")) throw new Error(`--${name} needs a value`)
    return v
  }
  const e = process.env[env]
  return e === undefined || e === "" ? undefined : e
}
if (flag("help") || flag("h")) {
  const text = Fs.readFileSync(fileURLToPath(import.meta.url), "utf8")
  console.log(text.slice(text.indexOf("/**") + 4, text.indexOf("*/")).replace(/^ \* ?/gm, ""))
  process.exit(0)
}
const quick = flag("quick") || process.env.BENCH_QUICK === "1"
const opts = {
  quick,
  rounds: Number(option("rounds", "BENCH_ROUNDS") ?? (quick ? 1 : 3)),
  seconds: Number(option("seconds", "BENCH_SECONDS") ?? (quick ? 0.2 : 1)),
  only: option("only", "BENCH_ONLY"),
  paths: option("paths", "BENCH_PATHS"),
  json: option("json", "BENCH_JSON"),
  scaleMax: flag("scale-max"),
  cpuProf: flag("cpu-prof"),
  via: (option("via", "BENCH_VIA") ?? "bundle") as "bundle" | "app" | "tsx",
  pin: !flag("no-pin"),
  verbose: flag("verbose")
}
if (!(opts.rounds >= 1) || !(opts.seconds > 0)) throw new Error("--rounds must be >= 1 and --seconds > 0")
if (opts.via !== "bundle" && opts.via !== "app" && opts.via !== "tsx") throw new Error("--via is bundle, app or tsx")

/** Sizes of the paths; the quick run shrinks the heavy ones. */
const size = {
  inFlight: 10_000,
  upload: 1 * MiB,
  listLen: 1000,
  idle: quick ? 100 : 1000,
  frame: quick ? 8 * MiB : 64 * MiB,
  scale: quick ? [10] : opts.scaleMax ? [10, 100, 1000, 5000, 10_000] : [10, 100, 1000]
}

// ---------------------------------------------------------------------------------------------
// peers: child processes with a JSON control channel

type PeerKind = "raw" | "wire" | "ts" | "py" | "birpc" | "erpc"
const NODE_PEERS: Record<Exclude<PeerKind, "py">, string> = {
  raw: "raw-peer",
  wire: "wire-peer",
  ts: "ts-peer",
  birpc: "birpc-peer",
  erpc: "effect-rpc-peer"
}

const hasTaskset = spawnSync("sh", ["-c", "command -v taskset"]).status === 0
const pinned = opts.pin && hasTaskset && Os.cpus().length >= 2
const profileDir = Path.join(BENCH, "profiles")
const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)

class PeerError extends Error {}

/** A peer process. `request` sends a command and resolves with its result. */
class Peer {
  readonly proc: ReturnType<typeof spawn>
  readonly ready: Promise<{ port?: number; skip?: string }>
  private readonly pending = new Map<
    number,
    { resolve: (v: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >()
  private nextId = 1
  private readonly tail: Array<string> = []
  dead: string | undefined

  constructor(readonly name: string, command: ReadonlyArray<string>) {
    this.proc = spawn(command[0], command.slice(1), { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] })
    live.add(this)
    let onReady!: (v: { port?: number; skip?: string }) => void
    let onFail!: (e: Error) => void
    this.ready = new Promise((res, rej) => {
      onReady = res
      onFail = rej
    })
    const readyTimer = setTimeout(
      () => onFail(new PeerError(`${name}: not ready after 30 s${this.tailText()}`)),
      30_000
    )
    Readline.createInterface({ input: this.proc.stdout! }).on("line", (line) => {
      if (!line.startsWith("@@ ")) return this.keep(line)
      const msg = JSON.parse(line.slice(3))
      if ("ready" in msg) {
        clearTimeout(readyTimer)
        return onReady(msg)
      }
      const p = this.pending.get(msg.id)
      if (p === undefined) return
      this.pending.delete(msg.id)
      clearTimeout(p.timer)
      if (msg.ok) p.resolve(msg.result)
      else p.reject(new PeerError(`${name}: ${msg.error}`))
    })
    Readline.createInterface({ input: this.proc.stderr! }).on("line", (line) => {
      this.keep(line)
      if (opts.verbose) process.stderr.write(`[${name}] ${line}\n`)
    })
    this.proc.on("error", (e) => this.died(`${e.message}`, onFail))
    this.proc.on("exit", (code, signal) => this.died(`exited (${signal ?? code})`, onFail))
    this.proc.stdin!.on("error", () => undefined)
  }

  private keep(line: string) {
    this.tail.push(line)
    if (this.tail.length > 20) this.tail.shift()
  }
  private tailText() {
    return this.tail.length === 0 ? "" : `\n    ${this.tail.slice(-8).join("\n    ")}`
  }
  private died(why: string, onFail: (e: Error) => void) {
    live.delete(this)
    if (this.dead !== undefined) return
    this.dead = why
    const error = new PeerError(`${this.name} ${why}${this.tailText()}`)
    onFail(error)
    for (const p of this.pending.values()) {
      clearTimeout(p.timer)
      p.reject(error)
    }
    this.pending.clear()
  }

  request<A = any>(cmd: string, body: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<A> {
    if (this.dead !== undefined) return Promise.reject(new PeerError(`${this.name} is down: ${this.dead}`))
    const id = this.nextId++
    return new Promise<A>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new PeerError(`${this.name}: ${cmd} timed out after ${timeoutMs / 1000} s; killed`))
        this.kill()
      }, timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
      this.proc.stdin!.write(JSON.stringify({ id, cmd, ...body }) + "\n")
    })
  }

  /** Asks the peer to exit (a profile is written on a normal exit), kills it after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.dead !== undefined) return
    const exited = new Promise<void>((r) => this.proc.once("exit", () => r()))
    this.request("exit", {}, graceMs).catch(() => undefined)
    this.proc.stdin!.end()
    const t = setTimeout(() => this.kill(), graceMs)
    await exited
    clearTimeout(t)
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL")
  }
}

const live = new Set<Peer>()
const killAll = () => {
  for (const p of live) p.kill()
}
process.on("exit", killAll)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping every peer`)
    killAll()
    process.exit(130)
  })
}

/** How to start a peer of `kind` as `role` (pinned: servers on core 0, clients on core 1). */
const peerCommand = (kind: PeerKind, role: "server" | "client"): Array<string> => {
  const pin = pinned ? ["taskset", "-c", role === "server" ? "0" : "1"] : []
  if (kind === "py") return [...pin, PYTHON, Path.join(BENCH, "peers", "py_peer.py"), role]
  const node = [process.execPath, "--expose-gc"]
  if (opts.cpuProf && kind === "ts") {
    node.push(
      "--cpu-prof",
      "--cpu-prof-dir",
      profileDir,
      `--cpu-prof-name=ts-${role}-${stamp}-${process.pid}.cpuprofile`
    )
  }
  const file = NODE_PEERS[kind]
  return opts.via !== "tsx"
    ? [...pin, ...node, Path.join(BENCH, ".cache", `${file}.mjs`), role]
    : [...pin, ...node, "--import", "tsx", Path.join(BENCH, "peers", `${file}.ts`), role]
}

/** Bundles the Node peers (with the library's src/, packages left external) into bench/.cache/. */
const bundle = async (): Promise<void> => {
  const esbuild = await import("esbuild")
  await esbuild.build({
    entryPoints: Object.values(NODE_PEERS).map((f) => Path.join(BENCH, "peers", `${f}.ts`)),
    outdir: Path.join(BENCH, ".cache"),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    ...(opts.via === "app"
      ? {
        // the CommonJS packages (ws) require Node's modules
        banner: {
          js:
            "import { createRequire as createRequireForBundle } from \"node:module\";\nconst require = createRequireForBundle(import.meta.url);"
        }
      }
      : { packages: "external" as const }),
    platform: "node",
    format: "esm",
    target: "node20",
    tsconfig: Path.join(ROOT, "tsconfig.json"),
    // a .map beside each bundle, for bench/top-frames.ts (node does not read it unless --enable-source-maps)
    sourcemap: "external",
    logLevel: "warning"
  })
}

// ---------------------------------------------------------------------------------------------
// rows and paths

interface Row {
  readonly id: string
  readonly label: string
  readonly client: PeerKind
  readonly server: PeerKind
  /** The paths this row can run (the others are n/a); default all. */
  readonly paths?: RegExp
}

/** The wire floor answers `add` only. */
const ADD_PATHS = /^(seq|pipe|connect|idle|scale-\d+)$/

const ROWS: ReadonlyArray<Row> = [
  { id: "raw", label: "raw TCP, JSON lines (Node)", client: "raw", server: "raw" },
  { id: "wire", label: "RPyC frames, plain Node sockets", client: "wire", server: "wire", paths: ADD_PATHS },
  { id: "wire-ts", label: "RPyC frames client -> TS server", client: "wire", server: "ts", paths: ADD_PATHS },
  { id: "ts-wire", label: "TS client -> RPyC frames server", client: "ts", server: "wire", paths: ADD_PATHS },
  // the most any client can get out of Python's server: the bound of the TS client -> Python row
  { id: "wire-py", label: "RPyC frames client -> Python RPyC", client: "wire", server: "py", paths: ADD_PATHS },
  // and the most Python's client gets out of a Node server: the bound of the Python client -> TS server row
  { id: "py-wire", label: "Python RPyC -> RPyC frames server", client: "py", server: "wire", paths: ADD_PATHS },
  { id: "py-py", label: "Python RPyC -> Python RPyC", client: "py", server: "py" },
  { id: "ts-ts", label: "TS client -> TS server", client: "ts", server: "ts" },
  { id: "py-ts", label: "Python RPyC -> TS server", client: "py", server: "ts" },
  { id: "ts-py", label: "TS client -> Python RPyC", client: "ts", server: "py" },
  { id: "birpc", label: "birpc over TCP (v8 frames)", client: "birpc", server: "birpc" },
  { id: "effect-rpc", label: "@effect/rpc over TCP (msgpack)", client: "erpc", server: "erpc" }
]

type Metrics = Record<string, number | null>

interface Column {
  readonly key: string
  readonly label: string
}

interface PathDef {
  readonly id: string
  readonly title: string
  /** The headline figure and its unit. */
  readonly headline: Column & { readonly better: "higher" | "lower" }
  readonly columns: ReadonlyArray<Column>
  readonly measure: (client: Peer, server: Peer, port: number) => Promise<Metrics>
}

const S = () => opts.seconds
const runTimeout = () => S() * 1000 + 90_000

/** A timed path: warm up, then run for `seconds`; the server's CPU is read before and after the run. */
const timed = (
  path: string,
  params: Record<string, unknown>,
  warm: { readonly path?: string; readonly maxOps: number; readonly seconds?: number },
  maxOps: number,
  derive: (
    r: { ops: number; elapsed: number; cpu: number; fullGcs?: number },
    serverCpu: number,
    serverFullGcs: number | undefined
  ) => Metrics
) =>
async (client: Peer, server: Peer, port: number): Promise<Metrics> => {
  await client.request(
    "warm",
    { path: warm.path ?? path, port, seconds: warm.seconds ?? Math.min(0.3, S() / 3), maxOps: warm.maxOps, ...params },
    runTimeout()
  )
  const s0 = await server.request("stats")
  const r = await client.request("run", { path, port, seconds: S(), maxOps, ...params }, runTimeout())
  const s1 = await server.request("stats")
  // Python peers count no collections: their figures stay blank
  const serverFullGcs = typeof s0.fullGcs === "number" ? s1.fullGcs - s0.fullGcs : undefined
  return derive(r, s1.cpu - s0.cpu, serverFullGcs)
}

const perCall = (r: { ops: number; elapsed: number; cpu: number }, serverCpu: number, scale = 1000) => ({
  rate: r.ops / r.elapsed,
  cpuC: (r.cpu * scale) / r.ops,
  cpuS: (serverCpu * scale) / r.ops
})

const cpuUs = [{ key: "cpuC", label: "client CPU us/call" }, { key: "cpuS", label: "server CPU us/call" }]

const PATHS: Array<PathDef> = [
  {
    id: "seq",
    title: "sequential calls, add(i, 1)",
    headline: { key: "rate", label: "calls/s", better: "higher" },
    columns: cpuUs,
    measure: timed("seq", {}, { maxOps: 3000 }, 2_000_000, (r, s) => perCall(r, s))
  },
  {
    id: "pipe",
    title: `${size.inFlight.toLocaleString("en-US")} calls in flight, add(i, 1)`,
    headline: { key: "rate", label: "calls/s", better: "higher" },
    columns: cpuUs,
    measure: timed("pipe", { inFlight: size.inFlight }, { maxOps: 1 }, size.inFlight * 200, (r, s) => perCall(r, s))
  },
  {
    id: "callback",
    title: "callbacks, callMe(fn, x): the server calls fn(x) on the client",
    headline: { key: "rate", label: "calls/s", better: "higher" },
    columns: cpuUs,
    measure: timed("callback", {}, { maxOps: 1000 }, 1_000_000, (r, s) => perCall(r, s))
  },
  {
    id: "upload",
    title: "upload(1 MiB of random bytes) -> its length",
    headline: { key: "rate", label: "MiB/s", better: "higher" },
    columns: [
      { key: "cpuC", label: "client CPU ms/MiB" },
      { key: "cpuS", label: "server CPU ms/MiB" },
      // a Node peer whose heap V8 shrank collects in full every few MiB here (README, Benchmarks)
      { key: "gcC", label: "client full GCs/100 MiB" },
      { key: "gcS", label: "server full GCs/100 MiB" }
    ],
    measure: timed("upload", { size: size.upload }, { maxOps: 5 }, 5000, (r, s, g) => ({
      ...perCall(r, s, 1),
      gcC: r.fullGcs === undefined ? null : (r.fullGcs * 100 * MiB) / (r.ops * size.upload),
      gcS: g === undefined ? null : (g * 100 * MiB) / (r.ops * size.upload)
    }))
  },
  {
    id: "list",
    title: `list(${size.listLen}) -> ${size.listLen} small tuples (i, i + 1, "ab")`,
    headline: { key: "rate", label: "tuples/s", better: "higher" },
    columns: [{ key: "cpuC", label: "client CPU us/list" }, { key: "cpuS", label: "server CPU us/list" }],
    measure: timed("list", { size: size.listLen }, { maxOps: 100 }, 100_000, (r, s) => {
      const m = perCall(r, s)
      return { ...m, rate: m.rate * size.listLen }
    })
  },
  {
    // before the connection-setup path: its thousands of connections leave the heap in a state whose
    // shrinking or growing under the next GC swamps 1,000 idle connections' few MiB (6.6 KiB each alone,
    // 8.7-16.6 measured right after it)
    id: "idle",
    title: `memory per idle connection (${size.idle.toLocaleString("en-US")} connections, one call each, RSS after GC)`,
    headline: { key: "srv", label: "server KiB/conn", better: "lower" },
    columns: [{ key: "cli", label: "client KiB/conn" }],
    measure: async (client, server, port) => {
      const s0 = await server.request("stats", { gc: true })
      const c = await client.request("idleOpen", { port, n: size.idle }, 180_000)
      const s1 = await server.request("stats", { gc: true })
      await client.request("idleClose", {}, 120_000)
      return { srv: (s1.rss - s0.rss) / c.n / 1024, cli: (c.rss1 - c.rss0) / c.n / 1024 }
    }
  },
  {
    id: "connect",
    title: "connection setup: connect + add(1, 1) + close, in a loop",
    headline: { key: "rate", label: "conn/s", better: "higher" },
    columns: [{ key: "cpuC", label: "client CPU ms/conn" }, { key: "cpuS", label: "server CPU ms/conn" }],
    // what a connection runs, each function once, takes V8 some 3,000 connections to optimise (the
    // TS client's CPU per connection halves over them): warm every row up that far, as a long-lived
    // server or client is
    measure: timed("connect", {}, { maxOps: 3000, seconds: Math.min(3, S() * 3) }, 5000, (r, s) => perCall(r, s, 1))
  },
  {
    id: "frame",
    title: `one ${size.frame / MiB} MiB frame end to end: upload(${size.frame / MiB} MiB of random bytes)`,
    headline: { key: "ms", label: "ms", better: "lower" },
    columns: [{ key: "cpuC", label: "client CPU ms" }, { key: "cpuS", label: "server CPU ms" }],
    measure: async (client, server, port) => {
      await client.request("warm", { path: "upload", port, size: MiB, seconds: 0, maxOps: 2 }, runTimeout())
      const s0 = await server.request("stats")
      const r = await client.request("run", { path: "upload", port, size: size.frame, seconds: 0, maxOps: 1 }, 180_000)
      const s1 = await server.request("stats")
      return { ms: r.elapsed * 1000, cpuC: r.cpu, cpuS: s1.cpu - s0.cpu }
    }
  },
  ...size.scale.map((n): PathDef => ({
    id: `scale-${n}`,
    title: `${n.toLocaleString("en-US")} connections at once, each calling add(i, 1) in a loop`,
    headline: { key: "rate", label: "calls/s", better: "higher" },
    columns: [
      ...cpuUs,
      { key: "p50", label: "p50 ms" },
      { key: "p99", label: "p99 ms" },
      { key: "first", label: "slowest 1st call ms" },
      { key: "rssS", label: "server KiB/conn" },
      { key: "rssC", label: "client KiB/conn" }
    ],
    measure: async (client, server, port) => {
      const s0 = await server.request("stats", { gc: true })
      await client.request("scaleOpen", { port, n }, 300_000)
      try {
        const s1 = await server.request("stats")
        const r = await client.request("scaleRun", { seconds: S(), maxOps: 5_000_000 }, S() * 1000 + 180_000)
        const s2 = await server.request("stats")
        const s3 = await server.request("stats", { gc: true })
        return {
          ...perCall(r, s2.cpu - s1.cpu),
          p50: r.p50,
          p99: r.p99,
          first: r.first,
          rssS: (s3.rss - s0.rss) / n / 1024,
          rssC: (r.rss1 - r.rss0) / n / 1024
        }
      } finally {
        await client.request("scaleClose", {}, 300_000).catch(() => undefined)
      }
    }
  }))
]

// ---------------------------------------------------------------------------------------------
// running

type Outcome = { metrics: Metrics } | { error: string }

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

const fdLimit = (): number => {
  const r = spawnSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" })
  const v = r.stdout.trim()
  return v === "unlimited" ? Infinity : Number(v)
}

const pythonVersion = (): string => {
  const r = spawnSync(PYTHON, ["-c", "import sys, rpyc; print(sys.version.split()[0], rpyc.__version__)"], {
    encoding: "utf8"
  })
  return r.status === 0 ? `Python ${r.stdout.trim().replace(" ", ", RPyC ")}` : "Python RPyC: not available"
}

/** The commit measured, and whether src/ differs from it (the suite measures the working tree). */
const gitState = (): string => {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" })
  if (head.status !== 0) return "unknown"
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT, encoding: "utf8" })
  const n = dirty.stdout.split("\n").filter((l) => l.trim() !== "").length
  return `${head.stdout.trim()}${n > 0 ? ` + ${n} changed file(s) in src/` : ""}`
}

const main = async () => {
  const t0 = Date.now()
  const rowRe = opts.only === undefined ? undefined : new RegExp(opts.only)
  const pathRe = opts.paths === undefined ? undefined : new RegExp(opts.paths)
  const rows = ROWS.filter((r) => rowRe === undefined || rowRe.test(r.id))
  const limit = fdLimit()
  const notes: Array<string> = []
  const paths = PATHS.filter((p) => pathRe === undefined || pathRe.test(p.id)).filter((p) => {
    const m = /^scale-(\d+)$/.exec(p.id)
    if (m === null || Number(m[1]) + 200 <= limit) return true
    notes.push(`${p.id} skipped: ulimit -n is ${limit}, it needs about ${Number(m[1]) + 200} per process`)
    return false
  })
  if (rows.length === 0 || paths.length === 0) throw new Error("--only / --paths leave nothing to run")
  if (opts.cpuProf) Fs.mkdirSync(profileDir, { recursive: true })

  if (opts.via !== "tsx") {
    try {
      await bundle()
    } catch (e) {
      notes.push(`bundling failed (${(e as Error).message.split("\n")[0]}); running the TS peers through tsx`)
      opts.via = "tsx"
    }
  }

  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    python: pythonVersion(),
    cpu: `${Os.cpus().length} x ${Os.cpus()[0]?.model ?? "?"}`,
    os: `${Os.type()} ${Os.release()}`,
    memory: `${Math.round(Os.totalmem() / 2 ** 30)} GiB`,
    pinned: pinned ? "servers on core 0, clients on core 1 (taskset)" : "not pinned",
    tsPeers: opts.via === "bundle"
      ? "esbuild bundle of src/ on plain node"
      : opts.via === "app"
      ? "esbuild bundle of src/ and the packages on plain node"
      : "tsx loader",
    fdLimit: limit,
    git: gitState(),
    loadavg: Os.loadavg().map((x) => x.toFixed(2)).join(" ")
  }
  console.log(`effect-rpyc benchmark suite${quick ? " (quick)" : ""}: ${opts.rounds} round(s), ${S()} s per timed run`)
  console.log(
    `${meta.node}, ${meta.python}; ${meta.cpu}; ${meta.pinned}; TS peers: ${meta.tsPeers}; ulimit -n ${limit}; src at ${meta.git}`
  )
  for (const n of notes) console.log(`note: ${n}`)

  // servers: one per kind, shared by the rows that use it (one client runs at a time)
  const servers = new Map<PeerKind, Peer>()
  const ports = new Map<PeerKind, number>()
  const skipped = new Map<string, string>()
  for (const kind of new Set(rows.map((r) => r.server))) {
    const peer = new Peer(`${kind} server`, peerCommand(kind, "server"))
    servers.set(kind, peer)
  }
  const clients = new Map<string, Peer>()
  for (const row of rows) clients.set(row.id, new Peer(`${row.id} client`, peerCommand(row.client, "client")))
  for (const [kind, peer] of servers) {
    try {
      const r = await peer.ready
      if (r.skip !== undefined) skipped.set(kind, r.skip)
      else ports.set(kind, r.port!)
    } catch (e) {
      skipped.set(kind, (e as Error).message)
    }
  }
  for (const row of rows) {
    try {
      const r = await clients.get(row.id)!.ready
      if (r.skip !== undefined) skipped.set(row.id, r.skip)
    } catch (e) {
      skipped.set(row.id, (e as Error).message)
    }
  }
  const skipOf = (row: Row) => skipped.get(row.id) ?? skipped.get(row.server)
  for (const row of rows) {
    const why = skipOf(row)
    if (why !== undefined) console.log(`skipped ${row.id}: ${why}`)
  }
  const active = rows.filter((r) => skipOf(r) === undefined)

  const outcomes = new Map<string, Map<string, Array<Outcome>>>()
  for (const p of paths) outcomes.set(p.id, new Map(rows.map((r) => [r.id, []])))

  for (let round = 0; round < opts.rounds; round++) {
    const rt = Date.now()
    // rotate the order of rows each round, so that no row always runs first or last
    const order = active.map((_, i) => active[(i + round) % active.length])
    for (const path of paths) {
      const pt = Date.now()
      for (const row of order) {
        const client = clients.get(row.id)!
        const server = servers.get(row.server)!
        if (client.dead !== undefined || server.dead !== undefined) {
          outcomes.get(path.id)!.get(row.id)!.push({ error: `peer down: ${client.dead ?? server.dead}` })
          continue
        }
        let outcome: Outcome
        if (row.paths !== undefined && !row.paths.test(path.id)) {
          outcomes.get(path.id)!.get(row.id)!.push({ error: "n/a" })
          continue
        }
        try {
          outcome = { metrics: await path.measure(client, server, ports.get(row.server)!) }
        } catch (e) {
          const message = (e as Error).message
          outcome = { error: message.includes("n/a:") ? "n/a" : message }
          if (outcome.error !== "n/a") console.log(`  ${path.id} ${row.id}: ${message.split("\n")[0]}`)
        }
        outcomes.get(path.id)!.get(row.id)!.push(outcome)
      }
      process.stdout.write(`  round ${round + 1}: ${path.id} (${((Date.now() - pt) / 1000).toFixed(0)} s)\n`)
    }
    console.log(`round ${round + 1}/${opts.rounds} done in ${((Date.now() - rt) / 1000).toFixed(0)} s`)
  }

  await Promise.all([...clients.values(), ...servers.values()].map((p) => p.stop(opts.cpuProf ? 15_000 : 3000)))

  // medians of rounds
  const results: Record<string, any> = {}
  for (const path of paths) {
    const byRow: Record<string, any> = {}
    for (const row of rows) {
      const list = outcomes.get(path.id)!.get(row.id)!
      const ok = list.flatMap((o) => ("metrics" in o ? [o.metrics] : []))
      const errors = list.flatMap((o) => ("error" in o ? [o.error] : []))
      const med: Metrics = {}
      if (ok.length > 0) {
        for (const key of Object.keys(ok[0])) {
          const xs = ok.map((m) => m[key]).filter((x): x is number => typeof x === "number" && Number.isFinite(x))
          med[key] = xs.length > 0 ? median(xs) : null
        }
      }
      byRow[row.id] = {
        label: row.label,
        median: ok.length > 0 ? med : null,
        rounds: list.map((o) => ("metrics" in o ? o.metrics : { error: o.error })),
        skipped: skipOf(row) ?? null,
        error: ok.length === 0 ? (errors[0] ?? null) : null
      }
    }
    results[path.id] = {
      title: path.title,
      headline: path.headline,
      columns: path.columns,
      rows: byRow
    }
  }

  const table = render(paths, rows, results)
  console.log(`\n${table}`)
  const wall = (Date.now() - t0) / 1000
  console.log(
    `\nwall time ${wall.toFixed(0)} s; load average at the end ${Os.loadavg().map((x) => x.toFixed(2)).join(" ")}`
  )

  const file = opts.json ?? Path.join(BENCH, "results", `${stamp}${quick ? "-quick" : ""}.json`)
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  Fs.writeFileSync(
    file,
    JSON.stringify({ meta: { ...meta, wallSeconds: wall, notes }, options: opts, size, results, table }, null, 2) +
      "\n"
  )
  console.log(`saved ${Path.relative(process.cwd(), file)}`)
  if (opts.cpuProf) console.log(`profiles in ${Path.relative(process.cwd(), profileDir)}/ (ts-*-${stamp}-*.cpuprofile)`)
}

// ---------------------------------------------------------------------------------------------
// the table

const fmt = (x: number | null | undefined): string => {
  if (x === null || x === undefined || !Number.isFinite(x)) return "-"
  const a = Math.abs(x)
  if (a >= 100) return Math.round(x).toLocaleString("en-US")
  if (a >= 10) return x.toFixed(1)
  if (a >= 1) return x.toFixed(2)
  return x.toPrecision(2)
}
const ratio = (x: number | null | undefined, ref: number | null | undefined): string =>
  x === null || x === undefined || ref === null || ref === undefined || ref === 0 ? "-" : `${(x / ref).toFixed(2)}x`

const render = (paths: ReadonlyArray<PathDef>, rows: ReadonlyArray<Row>, results: Record<string, any>): string => {
  const out: Array<string> = []
  for (const path of paths) {
    const r = results[path.id]
    const key = path.headline.key
    const raw = r.rows.raw?.median?.[key]
    const py = r.rows["py-py"]?.median?.[key]
    const header = [
      "row",
      path.headline.label,
      "vs raw",
      "vs py-py",
      ...path.columns.map((c) => c.label)
    ]
    const lines = rows.map((row) => {
      const cell = r.rows[row.id]
      if (cell.median === null) {
        const why = cell.skipped !== null ? "skipped" : cell.error === "n/a" ? "n/a" : "error"
        return [row.label, why, "", "", ...path.columns.map(() => "")]
      }
      const m = cell.median
      return [row.label, fmt(m[key]), ratio(m[key], raw), ratio(m[key], py), ...path.columns.map((c) => fmt(m[c.key]))]
    })
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
    const line = (cells: ReadonlyArray<string>) =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
    out.push(`${path.title}  [${path.headline.label}, ${path.headline.better} is better]`)
    out.push(line(header))
    for (const l of lines) out.push(line(l))
    out.push("")
  }
  return out.join("\n").trimEnd()
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    killAll()
    process.exit(1)
  }
)
