// Runs one of the package's CLIs (src/cli/<name>.ts): the built JavaScript from dist when the
// package has been built (what an installed package ships), else the TypeScript source through
// tsx's loader, in this same process, so `npx <name>` works right after `npm install`.
import { existsSync } from "node:fs"

export const run = async (name) => {
  const built = new URL(`../dist/src/cli/${name}.js`, import.meta.url)
  if (existsSync(built)) {
    await import(built.href)
  } else {
    const { register } = await import("tsx/esm/api")
    register()
    await import(new URL(`../src/cli/${name}.ts`, import.meta.url).href)
  }
}
