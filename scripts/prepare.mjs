// `npm install` / `npm ci` in a checkout build dist/, which the commands (npx rpyc-classic) run from.
// An install without the dev dependencies (NODE_ENV=production, --omit=dev) has no TypeScript to
// build with: it says so and succeeds, rather than failing the whole install.
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"

if (existsSync(new URL("../node_modules/typescript/package.json", import.meta.url))) {
  execFileSync("npm", ["run", "build"], { stdio: "inherit" })
} else {
  console.log("effect-rpyc: TypeScript is not installed (dev dependencies omitted), so dist/ is not built")
}
