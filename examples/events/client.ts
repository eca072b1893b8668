/**
 * The client of RPyC's events tutorial: asks the server to watch a file, changes the file twice,
 * and prints what the server reports through the callback.
 *
 *   npx tsx examples/events/client.ts [file]        # PORT (default 18871), INTERVAL (default 1 s)
 *
 * No BgServingThread: the connection serves the server's callback requests by itself, whenever
 * they arrive — while this script awaits something else, or nothing at all.
 */
import * as rpyc from "effect-rpyc"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { formatStat } from "./service.js"

const file = process.argv[2] ?? Path.join(await Fs.mkdtemp(Path.join(Os.tmpdir(), "floop-")), "floop.bloop")
await Fs.writeFile(file, "")
const port = Number(process.env.PORT ?? 18871)
const interval = Number(process.env.INTERVAL ?? 1)

const conn = await rpyc.connect("localhost", port)

// each change wakes whoever waits for the next one
let changes = 0
let nextChange: () => void = () => {}
const changed = () => new Promise<void>((resolve) => (nextChange = resolve))

function onFileChanged(oldstat: ReadonlyArray<unknown> | null, newstat: ReadonlyArray<unknown> | null) {
  console.log("file changed")
  console.log(`    old stat: ${formatStat(oldstat)}`)
  console.log(`    new stat: ${formatStat(newstat)}`)
  changes++
  nextChange()
}

const mon = await conn.root.FileMonitor(file, onFileChanged, interval) // create a filemon
console.log(`watching ${file}`)

let change = changed()
await Fs.appendFile(file, "shmoop") // change size
await change

change = changed()
await Fs.appendFile(file, "groop") // change size again
await change

await mon.stop()
console.log(`stopped after ${changes} changes`)
await conn.close()
