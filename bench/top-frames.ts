/**
 * The functions with the most self time in a V8 CPU profile (`.cpuprofile`, as written by
 * `node --cpu-prof`, e.g. `npx tsx bench/suite.ts --cpu-prof --only ts-ts --paths 'seq|callback'`).
 *
 *   npx tsx bench/top-frames.ts FILE.cpuprofile [--top N] [--by function|file]
 *
 * Self time of a function: the sampled time spent in it, not in what it calls. `(idle)` is time the
 * process waited for I/O; the percentages of the other rows are of the busy time.
 */
import * as Fs from "node:fs"
import { SourceMap } from "node:module"
import { fileURLToPath } from "node:url"

interface Node {
  readonly id: number
  readonly callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const args = process.argv.slice(2)
const valueOf = (name: string) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const file = args.find((a, i) => !a.startsWith("--") && (i === 0 || !args[i - 1].startsWith("--")))
if (file === undefined) {
  console.error("usage: npx tsx bench/top-frames.ts FILE.cpuprofile [--top N] [--by function|file]")
  process.exit(2)
}
const top = Number(valueOf("--top") ?? 25)
const byFile = valueOf("--by") === "file"

const profile = JSON.parse(Fs.readFileSync(file, "utf8")) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))

/** A short place: the path from `src/`, `node_modules/<pkg>` or `node:` on. */
const place = (url: string): string => {
  if (url === "") return ""
  const u = url.replace(/^file:\/\//, "")
  const nm = u.lastIndexOf("node_modules/")
  if (nm >= 0) return u.slice(nm + "node_modules/".length)
  for (const marker of ["/src/", "/bench/"]) {
    const i = u.lastIndexOf(marker)
    if (i >= 0) return u.slice(i + 1)
  }
  return u
}

/** A bundle's source map (bench/.cache/*.mjs.map), to name the src/ line a bundled frame comes from. */
const maps = new Map<string, SourceMap | undefined>()
const mapOf = (url: string): SourceMap | undefined => {
  if (!maps.has(url)) {
    let map: SourceMap | undefined
    try {
      const path = url.startsWith("file://") ? fileURLToPath(url) : url
      map = new SourceMap(JSON.parse(Fs.readFileSync(`${path}.map`, "utf8")))
    } catch {
      map = undefined
    }
    maps.set(url, map)
  }
  return maps.get(url)
}

/** `place:line` of a frame, through the bundle's source map when there is one. */
const locate = (f: Node["callFrame"]): { where: string; line: number } => {
  const map = f.url.endsWith(".mjs") ? mapOf(f.url) : undefined
  if (map !== undefined) {
    const entry = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number }
    if (entry.originalSource !== undefined) {
      return { where: place(entry.originalSource), line: (entry.originalLine ?? 0) + 1 }
    }
  }
  return { where: place(f.url), line: f.lineNumber + 1 }
}

const self = new Map<string, number>()
let total = 0
let idle = 0
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i])
  // the delta before a sample is the time that sample stands for (the first one is not)
  const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000
  if (node === undefined) continue
  const f = node.callFrame
  if (f.functionName === "(idle)") {
    idle += dt
    continue
  }
  total += dt
  const { line, where } = locate(f)
  const key = byFile
    ? (where === "" ? f.functionName : where)
    : `${f.functionName === "" ? "(anonymous)" : f.functionName}  ${where === "" ? "" : `${where}:${line}`}`
  self.set(key, (self.get(key) ?? 0) + dt)
}

const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
console.log(
  `${file}: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s profiled, ${
    (total / 1000).toFixed(2)
  } s busy, ${(idle / 1000).toFixed(2)} s idle`
)
console.log(`${"self ms".padStart(9)}  ${"% busy".padStart(6)}  ${byFile ? "file" : "function  place"}`)
for (const [key, ms] of rows) {
  console.log(`${ms.toFixed(1).padStart(9)}  ${((ms / total) * 100).toFixed(1).padStart(6)}  ${key}`)
}
