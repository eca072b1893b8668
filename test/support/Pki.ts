/**
 * A throw-away PKI made with the openssl CLI in a temporary directory, for the TLS tests: a CA, a
 * server certificate for localhost/127.0.0.1 and a client certificate signed by it, and an unrelated
 * CA with its own client certificate (which must not be trusted). `cleanup` removes it.
 */
import { afterAll, beforeAll } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export interface Pki {
  readonly dir: string
  /** Absolute paths of the PEM files inside `dir`. */
  readonly files: {
    readonly ca: string
    readonly serverKey: string
    readonly serverCert: string
    readonly clientKey: string
    readonly clientCert: string
    readonly otherCa: string
    readonly otherClientKey: string
    readonly otherClientCert: string
  }
  /** The contents of one of `files`. */
  readonly read: (file: string) => string
  readonly cleanup: () => void
}

/** Makes the PKI (synchronously: for `beforeAll`). */
export const makePki = (prefix = "effect-rpyc-pki-"): Pki => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))
  const openssl = (...args: Array<string>) => ChildProcess.execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  const makeCa = (name: string, cn: string) =>
    openssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-subj",
      `/CN=${cn}`,
      "-days",
      "1",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign"
    )
  const makeLeaf = (name: string, ca: string, cn: string, ext: string) => {
    Fs.writeFileSync(Path.join(dir, `${name}.ext`), ext)
    openssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`)
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${ca}.crt`,
      "-CAkey",
      `${ca}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`
    )
  }
  makeCa("ca", "effect-rpyc test CA")
  makeCa("other", "someone else's CA")
  makeLeaf("server", "ca", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
  makeLeaf("client", "ca", "client-1", "extendedKeyUsage=clientAuth\n")
  makeLeaf("stranger", "other", "stranger", "extendedKeyUsage=clientAuth\n")
  const file = (name: string) => Path.join(dir, name)
  return {
    dir,
    files: {
      ca: file("ca.crt"),
      serverKey: file("server.key"),
      serverCert: file("server.crt"),
      clientKey: file("client.key"),
      clientCert: file("client.crt"),
      otherCa: file("other.crt"),
      otherClientKey: file("stranger.key"),
      otherClientCert: file("stranger.crt")
    },
    read: (name) => Fs.readFileSync(name, "utf8"),
    cleanup: () => Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** A server's TLS file options for `pki`: its server certificate, and client certificates required from the CA. */
export const serverFiles = (pki: Pki) => ({
  keyfile: pki.files.serverKey,
  certfile: pki.files.serverCert,
  cafile: pki.files.ca
})

/** A client's TLS file options for `pki`: its client certificate (CN `client-1`), and the CA to trust. */
export const clientFiles = (pki: Pki) => ({
  keyfile: pki.files.clientKey,
  certfile: pki.files.clientCert,
  cafile: pki.files.ca
})

/** The PEM texts of a PKI's files, by the names of `Pki.files`. */
export type PemTexts = { -readonly [K in keyof Pki["files"]]: string }

/**
 * The PEM texts of a PKI made before the calling test file's tests and removed after them: call it
 * at the top level of the file, read the texts inside the tests.
 */
export const pemTextsOfSuite = (prefix: string): Readonly<PemTexts> => {
  const texts: PemTexts = {
    ca: "",
    serverKey: "",
    serverCert: "",
    clientKey: "",
    clientCert: "",
    otherCa: "",
    otherClientKey: "",
    otherClientCert: ""
  }
  let made: Pki | undefined
  beforeAll(() => {
    made = makePki(prefix)
    for (const name of Object.keys(texts) as Array<keyof PemTexts>) texts[name] = made.read(made.files[name])
  })
  afterAll(() => made?.cleanup())
  return texts
}
