/** A `node:` module (or a Node built-in by its bare name) that the bundled graph imports. */
export interface NodeImport {
  readonly module: string
  /** The importing file, relative to the package root. */
  readonly importer: string
}

export interface Bundle {
  /** The minified ES module. */
  readonly code: Uint8Array
  readonly bytes: number
  readonly gzipBytes: number
  readonly nodeImports: ReadonlyArray<NodeImport>
  /** Every input file of the graph (esbuild's metafile), relative to the package root. */
  readonly inputs: ReadonlyArray<string>
}

/** Bundles `entry` for browsers; writes `outfile` when given. */
export declare const bundle: (options: {
  readonly entry: string
  readonly outfile?: string | undefined
  readonly minify?: boolean | undefined
}) => Promise<Bundle>
