// The dashboard: one connection to the Python instrument through the gateway. It reads the
// history once, subscribes a callback that Python calls on every new reading, and sets the set
// point (a ValueError from Python shows under the form).
import * as rpyc from "/effect-rpyc.min.js"

const $ = (id) => document.getElementById(id)
const status = $("status")
/** Readings as [time, temperature, set point], oldest first. */
let readings = []
let received = 0

const draw = () => {
  const svg = $("chart")
  const width = 600
  const height = 300
  if (readings.length === 0) return
  const t1 = readings[readings.length - 1][0]
  const t0 = t1 - 60
  const values = readings.flatMap(([, temperature, setPoint]) => [temperature, setPoint])
  const low = Math.floor(Math.min(...values) / 5) * 5 - 5
  const high = Math.ceil(Math.max(...values) / 5) * 5 + 5
  const x = (t) => ((t - t0) / 60) * width
  const y = (v) => height - ((v - low) / (high - low)) * height
  const line = (pick) => readings.map((r, i) => `${i === 0 ? "M" : "L"}${x(r[0]).toFixed(1)},${y(pick(r)).toFixed(1)}`).join("")
  const grid = []
  for (let v = low; v <= high; v += 5) {
    grid.push(`<line x1="0" x2="${width}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e6ea"/>`)
    grid.push(`<text x="4" y="${y(v) - 3}" font-size="11" fill="#8a94a3">${v}</text>`)
  }
  svg.innerHTML = grid.join("") +
    `<path d="${line((r) => r[2])}" fill="none" stroke="#f79009" stroke-width="2" stroke-dasharray="6 4"/>` +
    `<path d="${line((r) => r[1])}" fill="none" stroke="#1570ef" stroke-width="2.5"/>`
}

const show = ([, temperature, setPoint]) => {
  $("temperature").textContent = temperature.toFixed(2)
  $("set-point").textContent = setPoint.toFixed(1)
}

const onReading = (reading) => {
  // called by Python: a tuple (time, temperature, set point), by value
  readings = [...readings, reading].filter((r) => r[0] >= reading[0] - 60)
  received += 1
  $("count").textContent = String(received)
  show(reading)
  draw()
}

const main = async () => {
  const url = document.querySelector("meta[name=rpyc-gateway]").content
  const conn = await rpyc.connectWebSocket(url)
  status.textContent = "connected"
  status.className = "connected"
  rpyc.Awaitable.runPromise(conn.awaitClose).then(() => {
    status.textContent = "connection closed"
    status.className = "closed"
  })

  $("name").textContent = await conn.root.name()
  readings = [...(await conn.root.history(120))]
  if (readings.length > 0) show(readings[readings.length - 1])
  $("set-point-input").value = String(await conn.root.get_set_point())
  draw()
  await conn.root.subscribe(onReading)

  $("set-point-form").addEventListener("submit", async (event) => {
    event.preventDefault()
    $("error").textContent = ""
    try {
      const value = await conn.root.set_set_point(Number($("set-point-input").value))
      $("set-point").textContent = value.toFixed(1)
    } catch (e) {
      // a Python exception: RemoteError, with Python's class name and arguments
      $("error").textContent = e instanceof rpyc.RemoteError ? `${e.name}: ${e.args[0]}` : String(e)
    }
  })
}

main().catch((e) => {
  status.textContent = `error: ${e?.message ?? e}`
  status.className = "closed"
})
