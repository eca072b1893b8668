// Runs one of the package's CLIs from the built JavaScript in dist/ (what the published package
// ships). A checkout builds dist/ on `npm install` (the `prepare` script); if it is missing, say
// how to make it rather than failing with a module-not-found trace.
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

export const run = async (name) => {
  const built = new URL(`../dist/cli/${name}.js`, import.meta.url)
  if (!existsSync(built)) {
    const root = fileURLToPath(new URL("..", import.meta.url))
    process.stderr.write(
      `${name}: the built CLI ${fileURLToPath(built)} is missing; run \`npm run build\` in ${root}\n`
    )
    process.exit(1)
  }
  await import(built.href)
}
