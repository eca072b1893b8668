/**
 * A structure-aware RPyC fuzzer (issue #12 item 4).
 *
 * - `Rng`: a seeded PRNG (mulberry32), so a run is a function of its seed.
 * - Brine trees (`Node`): a message is built as a tree of brine nodes (tuples, length-prefixed bytes,
 *   str, decimal ints, ready-encoded scalars) that serializes to exactly what `Brine.encode` writes,
 *   unless a mutation asked otherwise (a swapped tag, a length that lies, a long form).
 * - `FrameGen`: valid frames in the v5 or v6 envelope (PROTOCOL.md §3.1) for all 20 handlers
 *   (§3.4), with plausible boxed arguments (§3.3): references to the id_packs the server handed out
 *   on this connection, ints small and huge and negative, floats with inf/nan/-0.0, strings, bytes,
 *   tuples, slices, frozensets, nested tuples; then, for a share of the frames, mutations at the
 *   brine level (swap tags, truncate, extend lengths, nest deeply, replace a value with a random
 *   one, wrong seq, wrong message type, the other dialect, trailing garbage), at the frame level
 *   (flip the compressed flag, compress garbage, a header length that lies) and at the byte level
 *   (bit flips, splices of earlier frames, insertions, deletions).
 * - `Fuzzer`: drives several raw TCP connections against a server. Each connection asks for the
 *   root (GETROOT), then sends batches of generated frames, each batch followed by a sentinel PING
 *   whose echo paces the connection; id_packs in the replies become references for later frames.
 *   A connection the server closes (a malformed frame) is expected: the lane reconnects and goes on.
 *
 * Reproducibility: connection `i` of a run draws everything from `Rng(deriveSeed(seed, i))`; what
 * differs between runs is only which id_packs the server hands out (and, with several connections,
 * the interleaving). `recent()` keeps the last frames sent with their seed, connection and index.
 */
import * as Net from "node:net"
import * as Zlib from "node:zlib"
import * as Brine from "../src/internal/wire/Brine.js"
import * as Channel from "../src/internal/wire/Channel.js"
import * as Message from "../src/internal/wire/Message.js"
import { EXPOSED } from "./Target.js"

// ---------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: small, fast, good enough to drive a fuzzer; the same seed gives the same stream. */
export class Rng {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  /** In [0, 1). */
  float(): number {
    return this.u32() / 4294967296
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }
  chance(p: number): boolean {
    return this.float() < p
  }
  pick<A>(xs: ReadonlyArray<A>): A {
    return xs[this.int(xs.length)]
  }
  /** One of `choices`, each with its weight. */
  weighted<A>(choices: ReadonlyArray<readonly [number, A]>): A {
    let total = 0
    for (const [w] of choices) total += w
    let x = this.float() * total
    for (const [w, a] of choices) {
      if ((x -= w) < 0) return a
    }
    return choices[choices.length - 1][1]
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i += 4) {
      const v = this.u32()
      out[i] = v & 0xff
      if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff
      if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff
      if (i + 3 < n) out[i + 3] = v >>> 24
    }
    return out
  }
}

/** The seed of connection `index` of a run with `seed`. */
export const deriveSeed = (seed: number, index: number): number =>
  new Rng((seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0).u32()

// ---------------------------------------------------------------------------------------------
// brine trees

/**
 * A brine value as a mutable tree. `tag` replaces the first byte the node writes; `delta` is added to
 * its length field (and forces the 4-byte form); `pre` is the slice/frozenset prefix of a tuple.
 */
export type Node =
  | { k: "raw"; b: Uint8Array; tag?: number }
  | { k: "bytes"; d: Uint8Array; str: boolean; tag?: number; delta?: number }
  | { k: "int"; t: string; tag?: number; delta?: number }
  | { k: "tuple"; items: Array<Node>; pre?: number; tag?: number; delta?: number }

const IMM_MIN = -48
const IMM_MAX = 159

/** The tree of a JS brine value (spelling of Brine.ts). */
export const toNode = (v: unknown): Node => {
  if (Array.isArray(v)) return { k: "tuple", items: v.map(toNode) }
  if (v instanceof Brine.Slice) {
    return { k: "tuple", items: [v.start, v.stop, v.step].map(toNode), pre: Brine.Tag.SLICE }
  }
  if (v instanceof Brine.FrozenSet) return { k: "tuple", items: v.items.map(toNode), pre: Brine.Tag.FROZENSET }
  if (typeof v === "string") return { k: "bytes", d: Buffer.from(v, "utf8"), str: true }
  if (v instanceof Uint8Array) return { k: "bytes", d: v, str: false }
  if (typeof v === "bigint" && (v < IMM_MIN || v > IMM_MAX)) return { k: "int", t: v.toString() }
  if (typeof v === "number" && Number.isInteger(v) && !Object.is(v, -0) && (v < IMM_MIN || v > IMM_MAX)) {
    return { k: "int", t: Number.isSafeInteger(v) ? String(v) : BigInt(v).toString() }
  }
  return { k: "raw", b: Brine.encode(v) }
}

const lengthHeader = (
  w: Brine.Writer,
  node: { tag?: number; delta?: number },
  n: number,
  oneByte: number,
  l1: number,
  l4: number
) => {
  // `oneByte`: the tag of length 1 in the short forms (bytes 1–4, tuples 1–4), or -1 (ints)
  if (node.delta !== undefined) {
    w.byte(node.tag ?? l4)
    w.u32((n + node.delta) >>> 0)
  } else if (oneByte >= 0 && n >= 1 && n <= 4) {
    w.byte(node.tag ?? oneByte + n - 1)
  } else if (n < 256) {
    w.byte(node.tag ?? l1)
    w.byte(n)
  } else {
    w.byte(node.tag ?? l4)
    w.u32(n)
  }
}

/** Appends the node's encoding (canonical unless mutated). */
export const writeNode = (w: Brine.Writer, node: Node): void => {
  switch (node.k) {
    case "raw":
      if (node.tag !== undefined && node.b.length > 0) {
        w.byte(node.tag)
        w.bytes(node.b.subarray(1))
      } else w.bytes(node.b)
      return
    case "bytes": {
      const n = node.d.length
      if (node.str) {
        w.byte(node.tag ?? Brine.Tag.STR)
        const inner: Node = node.delta === undefined
          ? { k: "bytes", d: node.d, str: false }
          : { k: "bytes", d: node.d, str: false, delta: node.delta }
        return writeNode(w, inner)
      }
      if (n === 0 && node.delta === undefined) w.byte(node.tag ?? Brine.Tag.EMPTY_BYTES)
      else lengthHeader(w, node, n, Brine.Tag.BYTES_1, Brine.Tag.BYTES_L1, Brine.Tag.BYTES_L4)
      w.bytes(node.d)
      return
    }
    case "int": {
      lengthHeader(w, node, node.t.length, -1, Brine.Tag.INT_L1, Brine.Tag.INT_L4)
      w.ensure(node.t.length)
      for (let i = 0; i < node.t.length; i++) w.buf[w.pos++] = node.t.charCodeAt(i) & 0xff
      return
    }
    case "tuple": {
      if (node.pre !== undefined) w.byte(node.tag ?? node.pre)
      const inner: Node = node.pre === undefined ? node : { k: "tuple", items: node.items }
      if (node.pre !== undefined && node.delta !== undefined) inner.delta = node.delta
      const n = node.items.length
      if (n === 0 && inner.delta === undefined) w.byte(inner.tag ?? Brine.Tag.EMPTY_TUPLE)
      else lengthHeader(w, inner, n, Brine.Tag.TUPLE_1, Brine.Tag.TUPLE_L1, Brine.Tag.TUPLE_L4)
      for (const item of node.items) writeNode(w, item)
      return
    }
  }
}

/** Every node of a tree with its parent (for replacing it). */
const walk = (
  root: Node,
  visit: (node: Node, parent: Extract<Node, { k: "tuple" }> | undefined, index: number) => void
): void => {
  const stack: Array<[Node, Extract<Node, { k: "tuple" }> | undefined, number]> = [[root, undefined, 0]]
  while (stack.length > 0) {
    const [node, parent, index] = stack.pop()!
    visit(node, parent, index)
    if (node.k === "tuple") { for (let i = 0; i < node.items.length; i++) stack.push([node.items[i], node, i]) }
  }
}

// ---------------------------------------------------------------------------------------------
// values and boxes

/** An id_pack as decoded from a reply. */
export type IdPack = readonly [string, number | bigint, number | bigint]

const { Handler, Label, MsgType } = Message

/** Attribute names worth trying: exposed, safe dunders, blocked ones, odd ones. */
const NAMES: ReadonlyArray<string> = [
  ...EXPOSED,
  ...EXPOSED.map((n) => `exposed_${n}`),
  "__len__",
  "__getitem__",
  "__setitem__",
  "__delitem__",
  "__iter__",
  "__next__",
  "__contains__",
  "__eq__",
  "__lt__",
  "__hash__",
  "__repr__",
  "__str__",
  "__call__",
  "__enter__",
  "__exit__",
  "__doc__",
  "__add__",
  "__class__",
  "__dict__",
  "__proto__",
  "constructor",
  "prototype",
  "caller",
  "arguments",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "__defineGetter__",
  "_rpyc_getattr",
  "_rpyc_setattr",
  "name",
  "length",
  "size",
  "value",
  "nested",
  "then",
  "",
  "x".repeat(300),
  "\u00e9\u20ac\ud83d\ude00"
]

const HANDLERS_BUT_CLOSE = Object.values(Handler).filter((h) => h !== Handler.CLOSE)

/** Seqs of replies nobody asked for: valid (non-negative ints), never ours. */
const UNSOLICITED_SEQS: ReadonlyArray<number> = [0, 1, 2 ** 31, 2 ** 53 - 1]

const CMP_OPS = ["__eq__", "__ne__", "__lt__", "__gt__", "__le__", "__ge__", "__cmp__", "__add__", "nope"]

const INT_EDGES: ReadonlyArray<number | bigint> = [
  0,
  1,
  -1,
  IMM_MIN,
  IMM_MAX,
  IMM_MIN - 1,
  IMM_MAX + 1,
  255,
  256,
  65535,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  2 ** 32,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  -(2n ** 63n),
  2n ** 64n,
  -(2n ** 64n) - 1n,
  10n ** 300n,
  -(10n ** 300n)
]

const FLOAT_EDGES: ReadonlyArray<number> = [
  0.5,
  -0.0,
  Infinity,
  -Infinity,
  NaN,
  1e308,
  -1e308,
  5e-324,
  2.5,
  1e-300,
  2 ** 53 + 0.5
]

const STRINGS: ReadonlyArray<string> = [
  "",
  "a",
  "hello",
  "h\u00e9llo",
  "\u20ac",
  "\ud83d\ude00",
  "RPYC",
  "\0",
  "x".repeat(4000)
]

/** 1, 2 and 4 MiB of zeros, deflated (made once). */
const ZEROS_DEFLATED: ReadonlyArray<Uint8Array> = [1, 2, 4].map((mib) =>
  Zlib.deflateSync(Buffer.alloc(mib << 20), { level: 1 })
)

export class FrameGen {
  /** Frames generated on this connection (earlier ones feed splices). */
  private readonly history: Array<Uint8Array> = []
  constructor(
    readonly rng: Rng,
    readonly version: Message.WireVersion,
    /** id_packs the server handed out on this connection (label 4 in its replies). */
    readonly refs: Array<IdPack>
  ) {}

  // ----- values

  int(): number | bigint {
    const r = this.rng
    switch (r.int(4)) {
      case 0:
        return r.range(IMM_MIN, IMM_MAX)
      case 1:
        return r.range(-100000, 100000)
      case 2:
        return r.pick(INT_EDGES)
      default: {
        // a big decimal of up to ~400 digits (the decoder refuses over 4300)
        let s = String(r.range(1, 9))
        const digits = r.chance(0.9) ? r.range(1, 40) : r.range(40, 400)
        for (let i = 0; i < digits; i++) s += String(r.int(10))
        return BigInt(r.chance(0.5) ? `-${s}` : s)
      }
    }
  }

  float(): number | Brine.PyFloat {
    const r = this.rng
    switch (r.int(3)) {
      case 0:
        return r.pick(FLOAT_EDGES)
      case 1:
        return new Brine.PyFloat(r.range(-5, 5))
      default:
        return (r.float() - 0.5) * 10 ** r.range(-10, 20)
    }
  }

  str(): string {
    const r = this.rng
    if (r.chance(0.5)) return r.pick(STRINGS)
    if (r.chance(0.5)) return r.pick(NAMES)
    let s = ""
    const n = r.range(0, 24)
    for (let i = 0; i < n; i++) s += String.fromCharCode(r.chance(0.9) ? r.range(32, 126) : r.range(0xa0, 0xd7ff))
    return s
  }

  /** A random brine value, nesting up to `depth`. */
  value(depth = 3): unknown {
    const r = this.rng
    const kind = r.int(depth > 0 ? 16 : 12)
    switch (kind) {
      case 0:
        return null
      case 1:
        return r.chance(0.5)
      case 2:
      case 3:
        return this.int()
      case 4:
        return this.float()
      case 5:
      case 6:
        return this.str()
      case 7:
        return r.chance(0.9) ? r.bytes(r.range(0, 300)) : r.bytes(r.range(300, 5000))
      case 8:
        return new Brine.Complex(Number(this.float()), Number(this.float()))
      case 9:
        return r.pick([Brine.Ellipsis, Brine.NotImplemented, [], new Uint8Array(0)])
      case 10:
        return new Brine.Slice(
          this.sliceBound() as Brine.Value,
          this.sliceBound() as Brine.Value,
          this.sliceBound() as Brine.Value
        )
      case 11:
        return r.chance(0.5) ? this.int() : this.str()
      case 12:
        return new Brine.FrozenSet(Array.from({ length: r.range(0, 4) }, () => this.value(depth - 1) as Brine.Value))
      default:
        return Array.from({ length: r.chance(0.9) ? r.range(0, 5) : r.range(5, 300) }, () => this.value(depth - 1))
    }
  }

  private sliceBound(): unknown {
    const r = this.rng
    return r.weighted<() => unknown>([[3, () => null], [4, () => r.range(-10, 10)], [1, () => this.int()], [
      1,
      () => this.float()
    ], [1, () => this.str()]])()
  }

  // ----- references and boxes

  /** A known id_pack (or a forged or malformed one now and then). */
  idPack(): unknown {
    const r = this.rng
    if (this.refs.length > 0 && r.chance(0.85)) {
      // the newest references are the most interesting: they are what the last calls returned
      return r.chance(0.5) ? this.refs[this.refs.length - 1 - r.int(Math.min(4, this.refs.length))] : r.pick(this.refs)
    }
    return r.weighted<() => unknown>([
      [4, () => [r.pick(["builtins.list", "builtins.object", "js.Widget", "__main__.Nope"]), this.int(), this.int()]],
      [1, () => [Buffer.from("builtins.function"), r.range(1, 500), r.range(0, 500)]],
      [1, () => [r.range(0, 3), "x", null]],
      [1, () => this.value(1)],
      [1, () => []]
    ])()
  }

  /** The object operand of a handler. */
  target(): unknown {
    const r = this.rng
    return r.weighted<() => unknown>([
      [16, () => [Label.LOCAL_REF, this.idPack()]],
      [1, () => [Label.REMOTE_REF, this.idPack()]],
      [1, () => [Label.VALUE, this.value(1)]],
      [1, () => [r.pick([0, 5, -1, 255, "x", null]), this.idPack()]],
      [1, () => this.value(1)]
    ])()
  }

  /** A boxed argument. */
  arg(depth = 2): unknown {
    const r = this.rng
    return r.weighted<() => unknown>([
      [12, () => [Label.VALUE, this.value()]],
      [3, () => [Label.LOCAL_REF, this.idPack()]],
      [2, () => [Label.REMOTE_REF, this.idPack()]],
      [depth > 0 ? 2 : 0, () => [Label.TUPLE, Array.from({ length: r.range(0, 4) }, () => this.arg(depth - 1))]],
      [1, () => [Label.TUPLE, this.value(1)]],
      [1, () => [r.pick([0, 5, 7, -1]), this.value(1)]]
    ])()
  }

  name(): unknown {
    const r = this.rng
    if (r.chance(0.85)) return r.pick(NAMES)
    return r.chance(0.5) ? Buffer.from(r.pick(NAMES)) : this.value(1)
  }

  /** Positional arguments of a call, as a box. */
  callArgs(): unknown {
    const r = this.rng
    if (r.chance(0.5)) return [Label.VALUE, Array.from({ length: r.range(0, 3) }, () => this.value(1))]
    return [Label.TUPLE, Array.from({ length: r.range(0, 3) }, () => this.arg(1))]
  }

  kwargs(): unknown {
    const r = this.rng
    return r.weighted<() => unknown>([
      [6, () => [Label.VALUE, []]],
      [2, () => [Label.VALUE, [["k", this.value(1)]]]],
      [1, () => [Label.VALUE, [[this.value(0), 1]]]],
      [1, () => [Label.VALUE, this.value(1)]],
      [1, () => [Label.TUPLE, [[Label.TUPLE, [[Label.VALUE, "k"], this.arg(1)]]]]]
    ])()
  }

  /** The boxed argument tuple of a request to `handler` (PROTOCOL.md §3.4). */
  requestArgs(handler: number): unknown {
    const r = this.rng
    const T = (...boxes: Array<unknown>) => [Label.TUPLE, boxes]
    const V = (v: unknown) => [Label.VALUE, v]
    switch (handler) {
      case Handler.PING:
        return T(this.arg())
      case Handler.CLOSE:
      case Handler.GETROOT:
        return V([])
      case Handler.GETATTR:
      case Handler.DELATTR:
        return T(this.target(), V(this.name()))
      case Handler.SETATTR:
        return T(this.target(), V(this.name()), this.arg())
      case Handler.CALL:
        return T(this.target(), this.callArgs(), this.kwargs())
      case Handler.CALLATTR:
        // mostly the root's own methods, so that the replies bring references to work with
        return T(
          r.chance(0.5) && this.refs.length > 0 ? [Label.LOCAL_REF, this.refs[0]] : this.target(),
          V(r.chance(0.6) ? r.pick(EXPOSED) : this.name()),
          this.callArgs(),
          this.kwargs()
        )
      case Handler.REPR:
      case Handler.STR:
      case Handler.HASH:
      case Handler.DIR:
        return T(this.target())
      case Handler.CMP:
        return T(this.target(), this.arg(), V(r.chance(0.8) ? r.pick(CMP_OPS) : this.value(0)))
      case Handler.PICKLE:
        return T(this.target(), V(r.chance(0.7) ? r.range(-1, 5) : this.value(0)))
      case Handler.DEL:
        return T(this.target(), V(r.chance(0.7) ? r.range(0, 3) : this.value(0)))
      case Handler.INSPECT:
        return T(V(this.idPack()))
      case Handler.BUFFITER:
        return T(this.target(), V(r.chance(0.7) ? r.range(0, 100) : this.value(0)))
      case Handler.OLDSLICING:
        return T(
          this.target(),
          V(r.chance(0.7) ? "__getitem__" : this.name()),
          V(r.chance(0.7) ? "__getslice__" : this.name()),
          V(this.sliceBound()),
          V(this.sliceBound()),
          V(r.chance(0.8) ? [] : this.value(1))
        )
      case Handler.CTXEXIT:
        return T(this.target(), r.chance(0.5) ? V(null) : this.arg(0))
      case Handler.INSTANCECHECK:
        return T(this.target(), V(this.idPack()))
      default:
        return T(...Array.from({ length: r.range(0, 3) }, () => this.arg(0)))
    }
  }

  // ----- envelopes

  /** The payload of a message as trees: v5 `[(msg, seq, args)]`, v6 `[msg byte, (seq, args)]`. */
  envelope(version: Message.WireVersion, msg: number, seq: unknown, args: unknown): Array<Node> {
    if (version === 5) return [{ k: "tuple", items: [toNode(msg), toNode(seq), toNode(args)] }]
    return [{ k: "raw", b: Uint8Array.of(msg & 0xff) }, { k: "tuple", items: [toNode(seq), toNode(args)] }]
  }

  /** A valid request (the 20 handlers; an unknown id now and then). */
  requestTrees(seq: number): { trees: Array<Node>; handler: unknown } {
    const r = this.rng
    const handler = r.weighted<() => unknown>([
      // CLOSE ends the connection: rare
      [95, () => r.chance(0.002) ? Handler.CLOSE : r.pick(HANDLERS_BUT_CLOSE)],
      [5, () => r.pick<unknown>([0, 21, 99, 255, -1, 2 ** 40, "PING", null, 1.5, [1]])]
    ])()
    const h = handler
    return {
      trees: this.envelope(this.version, MsgType.REQUEST, seq, [h, this.requestArgs(typeof h === "number" ? h : 0)]),
      handler: h
    }
  }

  // ----- mutations

  /** Brine-level mutations of the trees; returns the mutation's name. */
  mutateTrees(trees: Array<Node>): string {
    const r = this.rng
    const nodes: Array<[Node, Extract<Node, { k: "tuple" }> | undefined, number]> = []
    for (const t of trees) walk(t, (n, p, i) => nodes.push([n, p, i]))
    const [node, parent, index] = r.pick(nodes)
    const replace = (next: Node) => {
      if (parent !== undefined) parent.items[index] = next
      else trees[trees.indexOf(node)] = next
    }
    const body = trees[trees.length - 1] as Extract<Node, { k: "tuple" }>
    const kind = r.pick(
      [
        "swapTag",
        "extendLength",
        "nestDeeply",
        "replaceRandom",
        "wrongSeq",
        "wrongMsgType",
        "dropItem",
        "duplicateItem",
        "hugeCount",
        "longForm"
      ] as const
    )
    switch (kind) {
      case "swapTag":
        node.tag = r.chance(0.5)
          ? r.int(256)
          : r.pick([0x07, 0x09, 0x1c, 0x1d, 0x1e, 0x1f, 0xf0, 0xff, 0x08, 0x0f, 0x15, 0x17])
        break
      case "extendLength":
      case "longForm": {
        const sized = nodes.filter(([n]) => n.k !== "raw")
        if (sized.length === 0) break
        const [n] = r.pick(sized)
        ;(n as { delta?: number }).delta = kind === "longForm"
          ? 0
          : r.pick([1, 2, 3, 7, 255, 4096, 65536, 2 ** 24, 2 ** 31, 2 ** 32 - 1, -1, -2])
        break
      }
      case "nestDeeply": {
        const depth = r.weighted([[6, r.range(8, 300)], [3, r.range(300, 5000)], [1, r.range(5000, 200000)]])
        let inner: Node = r.chance(0.5) ? node : toNode(this.value(0))
        if (depth > 500) {
          // built as raw bytes: a tree this deep would overflow our own (recursive) writer
          const w = new Brine.Writer(depth + 16)
          for (let i = 0; i < depth; i++) w.byte(Brine.Tag.TUPLE_1)
          writeNode(w, inner)
          inner = { k: "raw", b: Uint8Array.from(w.result()) }
        } else {
          for (let i = 0; i < depth; i++) inner = { k: "tuple", items: [inner] }
        }
        replace(inner)
        break
      }
      case "replaceRandom":
        replace(toNode(this.value(3)))
        break
      case "wrongSeq":
        body.items[this.version === 5 ? 1 : 0] = toNode(
          r.pick<unknown>([-1, -(2 ** 40), 2 ** 53, 2n ** 64n, 1.5, NaN, "0", null, [], new Uint8Array(1)])
        )
        break
      case "wrongMsgType":
        if (this.version === 5) body.items[0] = toNode(r.pick<unknown>([0, 4, 5, 18, 255, -1, "1", null, 1.0000001]))
        else trees[0] = { k: "raw", b: Uint8Array.of(r.pick([0, 4, 5, 0x12, 0x7f, 0xff])) }
        break
      case "dropItem":
        if (node.k === "tuple" && node.items.length > 0) node.items.splice(r.int(node.items.length), 1)
        else body.items.pop()
        break
      case "duplicateItem":
        if (node.k === "tuple" && node.items.length > 0) node.items.push(r.pick(node.items))
        else body.items.push(toNode(this.value(1)))
        break
      case "hugeCount": {
        // a tuple or bytes header that claims far more than follows
        const w = new Brine.Writer()
        w.byte(r.pick([Brine.Tag.TUPLE_L4, Brine.Tag.BYTES_L4, Brine.Tag.INT_L4, Brine.Tag.TUPLE_L1]))
        w.u32(r.pick([0xffffffff, 0x7fffffff, 1 << 24, 100000]))
        w.bytes(r.bytes(r.range(0, 16)))
        replace({ k: "raw", b: Uint8Array.from(w.result()) })
        break
      }
    }
    return kind
  }

  /** Payload bytes of trees. */
  serialize(trees: ReadonlyArray<Node>): Uint8Array {
    const w = new Brine.Writer(128)
    for (const t of trees) writeNode(w, t)
    return Uint8Array.from(w.result())
  }

  /** Byte-level mutations of a payload. */
  mutateBytes(payload: Uint8Array): [Uint8Array, string] {
    const r = this.rng
    const kind = r.pick(["bitFlip", "splice", "insert", "delete", "truncate", "trailingGarbage"] as const)
    const out = Buffer.from(payload)
    switch (kind) {
      case "bitFlip": {
        const flips = r.weighted([[6, 1], [3, r.range(2, 4)], [1, r.range(5, 32)]])
        for (let i = 0; i < flips && out.length > 0; i++) out[r.int(out.length)] ^= 1 << r.int(8)
        return [out, kind]
      }
      case "splice": {
        const other = this.history.length > 0 ? r.pick(this.history) : payload
        const from = r.int(other.length + 1)
        const piece = other.subarray(from, from + r.range(1, 64))
        const at = r.int(out.length + 1)
        const cut = r.range(0, Math.min(32, out.length - at))
        return [Buffer.concat([out.subarray(0, at), piece, out.subarray(at + cut)]), kind]
      }
      case "insert": {
        const at = r.int(out.length + 1)
        return [Buffer.concat([out.subarray(0, at), r.bytes(r.range(1, 16)), out.subarray(at)]), kind]
      }
      case "delete": {
        const at = r.int(out.length + 1)
        return [Buffer.concat([out.subarray(0, at), out.subarray(at + r.range(1, 16))]), kind]
      }
      case "truncate":
        return [out.subarray(0, r.int(out.length)), kind]
      case "trailingGarbage":
        return [Buffer.concat([out, r.bytes(r.range(1, 64))]), kind]
    }
  }

  /**
   * The next fuzz frame with sequence number `seq`: `bytes` is the whole frame, `kind` what was done,
   * `lies` whether its header announces more bytes than follow (the server then waits for more).
   */
  frame(seq: number, risky: boolean): { bytes: Buffer; kind: string; lies: boolean } {
    const r = this.rng
    const category = risky
      ? r.weighted(
        [
          [40, "brine"],
          [10, "dialect"],
          [25, "bytes"],
          [25, "frame"]
        ] as const
      )
      : r.weighted([[88, "valid"], [12, "reply"]] as const)
    let kind: string = category
    let payload: Uint8Array
    let flag = 0
    let lies = false
    switch (category) {
      case "valid":
      case "brine": {
        const { handler, trees } = this.requestTrees(seq)
        kind = `request ${typeof handler === "number" ? Message.handlerName(handler) : String(handler)}`
        if (category === "brine") kind += ` ${this.mutateTrees(trees)}`
        payload = this.serialize(trees)
        break
      }
      case "reply": {
        // replies and exceptions nobody asked for (late, unknown, duplicated seqs)
        const msg = r.pick([MsgType.REPLY, MsgType.EXCEPTION])
        const args = msg === MsgType.REPLY
          ? this.arg()
          : r.pick<unknown>([1, "legacy", [["builtins", "ValueError"], ["x"], [], "tb"], this.value(2)])
        payload = this.serialize(
          this.envelope(this.version, msg, r.chance(0.5) ? r.range(0, 50) : r.pick(UNSOLICITED_SEQS), args)
        )
        kind = msg === MsgType.REPLY ? "unsolicited reply" : "unsolicited exception"
        break
      }
      case "dialect": {
        const { trees } = this.requestTrees(seq)
        payload = this.serialize(trees)
        const other = this.serialize(
          this.envelope(this.version === 5 ? 6 : 5, MsgType.REQUEST, seq, [Handler.PING, [Label.VALUE, ["x"]]])
        )
        payload = r.chance(0.5) ? other : payload.subarray(r.range(1, 2))
        kind = "other dialect"
        break
      }
      case "bytes": {
        const { trees } = this.requestTrees(seq)
        const [mutated, how] = this.mutateBytes(this.serialize(trees))
        payload = mutated
        kind = `bytes ${how}`
        break
      }
      case "frame": {
        const { trees } = this.requestTrees(seq)
        const valid = this.serialize(trees)
        const how = r.pick(
          ["flipCompressed", "compressGarbage", "deflateGarbage", "compressValid", "inflateLarge", "lengthLie"] as const
        )
        kind = `frame ${how}`
        payload = valid
        switch (how) {
          case "flipCompressed":
            flag = r.range(1, 255)
            break
          case "compressGarbage":
            payload = r.bytes(r.range(0, 200))
            flag = 1
            break
          case "deflateGarbage":
            payload = Zlib.deflateSync(r.bytes(r.range(0, 2000)), { level: 1 })
            flag = r.range(1, 255)
            break
          case "compressValid":
            payload = Zlib.deflateSync(valid, { level: r.range(0, 9) })
            flag = 1
            break
          case "inflateLarge":
            // inflates to a few MiB of zeros: not a bomb, but far more than the frame announced
            payload = ZEROS_DEFLATED[r.int(ZEROS_DEFLATED.length)]
            flag = 1
            break
          case "lengthLie": {
            const out = Buffer.from(Channel.encodeFrame(valid, { compress: false }))
            const delta = r.pick([-3, -2, -1, 1, 2, 7, 100, 70000, 2 ** 31])
            const length = Math.max(0, valid.length + delta)
            out.writeUInt32BE(length >>> 0, 0)
            lies = delta > 0
            this.remember(valid)
            return { bytes: out, kind: `${kind} ${delta}`, lies }
          }
        }
        break
      }
    }
    this.remember(payload)
    const out = Buffer.allocUnsafe(6 + payload.length)
    out.writeUInt32BE(payload.length, 0)
    out[4] = flag
    out.set(payload, 5)
    out[5 + payload.length] = 0x0a
    return { bytes: out, kind, lies }
  }

  private remember(payload: Uint8Array): void {
    if (payload.length > 4096) return
    if (this.history.length >= 32) this.history.splice(this.rng.int(32), 1)
    this.history.push(payload)
  }
}

/** A plain request frame (no mutation). */
export const requestFrame = (version: Message.WireVersion, seq: number, handler: number, boxedArgs: unknown): Buffer =>
  Buffer.from(
    Channel.encodeFrame(Message.encodePayload(version, MsgType.REQUEST, seq, [handler, boxedArgs]), { compress: false })
  )

/** Every label-4 id_pack inside a boxed value. */
export const harvestIdPacks = (box: unknown, out: Array<IdPack>, budget = 64): void => {
  if (!Array.isArray(box) || box.length !== 2 || budget <= 0) return
  const [label, value] = box
  if (label === Label.REMOTE_REF && Array.isArray(value) && value.length === 3 && typeof value[0] === "string") {
    out.push(value as unknown as IdPack)
  } else if (label === Label.TUPLE && Array.isArray(value)) {
    for (const item of value.slice(0, 16)) harvestIdPacks(item, out, budget - 1)
  }
}

// ---------------------------------------------------------------------------------------------
// the driver

export interface FuzzOptions {
  readonly host?: string | undefined
  readonly port: number
  readonly seed: number
  /** Fuzz frames to send in all (sentinels and handshakes not counted). */
  readonly frames: number
  /** Connections at once (default 4). */
  readonly connections?: number | undefined
  /** Envelope dialect; default: each connection picks one. */
  readonly dialect?: Message.WireVersion | undefined
  /** Frames per connection before it hangs up by itself (default 20–3000, random). */
  readonly maxFramesPerConnection?: number | undefined
  /** Frames per batch (default 1–48, random); a sentinel PING follows each batch. */
  readonly maxBatch?: number | undefined
  /** Share of batches that end with a frame likely to be fatal (a mutation); default 0.3. */
  readonly riskyBatchShare?: number | undefined
  /** How long to wait for a sentinel's echo before giving the connection up (default 2 s). */
  readonly sentinelTimeoutMillis?: number | undefined
  /** Called now and then with the running stats. */
  readonly onProgress?: ((stats: FuzzStats) => void) | undefined
}

export interface FuzzStats {
  framesSent: number
  bytesSent: number
  sentinels: number
  connectionsOpened: number
  /** Connections the server closed (a malformed frame, CLOSE, or its own decision). */
  closedByServer: number
  /** Connections we hung up (budget spent, or given up after a stall). */
  closedByUs: number
  /** Batches whose sentinel was not answered in time while the connection stayed open. */
  stalls: number
  /** Sentinels whose echo came back wrong. */
  badEchoes: number
  /** Connections the server did not answer GETROOT on. */
  handshakeFailures: number
  /** Connections that could not be opened (a dead server). */
  connectFailures: number
  repliesReceived: number
  /** The slowest sentinel round trip (ms). */
  worstSentinelMillis: number
  elapsedMillis: number
  kinds: Record<string, number>
}

/** One frame as sent, for the failure report. */
export interface FrameRecord {
  readonly seed: number
  readonly connection: number
  readonly index: number
  readonly kind: string
  readonly length: number
  readonly hex: string
}

const SENTINEL_BASE = 1_000_000_000
const HEX_LIMIT = 256

export const hexOf = (bytes: Uint8Array, limit = HEX_LIMIT): string =>
  Buffer.from(bytes.subarray(0, limit)).toString("hex") + (bytes.length > limit ? `… (${bytes.length} bytes)` : "")

interface Waiter {
  readonly seq: number
  readonly resolve: (outcome: "echo" | "bad" | "closed" | "timeout") => void
}

/** One raw connection's state. */
class Session {
  readonly refs: Array<IdPack> = []
  readonly decoder = new Channel.FrameDecoder({ maxFrameSize: 1 << 30 })
  closed = false
  closedByUs = false
  waiter: Waiter | undefined
  private readonly closeWaiters: Array<() => void> = []
  expected = new Map<number, Uint8Array>()

  constructor(readonly socket: Net.Socket, readonly version: Message.WireVersion, readonly stats: FuzzStats) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk))
    socket.on("error", () => {})
    socket.on("close", () => {
      this.closed = true
      this.settle("closed")
      for (const w of this.closeWaiters.splice(0)) w()
    })
  }

  private onData(chunk: Buffer): void {
    let payloads: Array<Uint8Array>
    try {
      payloads = this.decoder.push(chunk)
    } catch {
      this.socket.destroy()
      return
    }
    for (const p of payloads) {
      this.stats.repliesReceived++
      let env: Message.Envelope
      try {
        env = Message.decodePayload(this.version, p)
      } catch {
        continue
      }
      if (env.msg === MsgType.REPLY && this.refs.length < 256) harvestIdPacks(env.args, this.refs)
      if (this.waiter !== undefined && env.seq === this.waiter.seq && env.msg !== MsgType.REQUEST) {
        const want = this.expected.get(env.seq)
        const box = env.args as [number, unknown]
        const ok = want === undefined ||
          (env.msg === MsgType.REPLY && box[1] instanceof Uint8Array && Buffer.from(box[1]).equals(want))
        this.settle(ok ? "echo" : "bad")
      }
    }
  }

  settle(outcome: "echo" | "bad" | "closed" | "timeout"): void {
    const w = this.waiter
    if (w === undefined) return
    this.waiter = undefined
    this.expected.delete(w.seq)
    w.resolve(outcome)
  }

  /** Waits for the answer to `seq`, the close, or the timeout. */
  awaitSeq(seq: number, timeoutMillis: number): Promise<"echo" | "bad" | "closed" | "timeout"> {
    if (this.closed) return Promise.resolve("closed")
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle("timeout"), timeoutMillis)
      this.waiter = {
        seq,
        resolve: (o) => {
          clearTimeout(timer)
          resolve(o)
        }
      }
    })
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return Promise.resolve()
    return new Promise((resolve) => {
      if (this.socket.write(bytes)) resolve()
      else {
        const done = () => {
          this.socket.off("drain", done)
          this.socket.off("close", done)
          resolve()
        }
        this.socket.on("drain", done)
        this.socket.on("close", done)
      }
    })
  }

  awaitClose(timeoutMillis: number): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy()
      }, timeoutMillis)
      this.closeWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}

export class Fuzzer {
  readonly stats: FuzzStats = {
    framesSent: 0,
    bytesSent: 0,
    sentinels: 0,
    connectionsOpened: 0,
    closedByServer: 0,
    closedByUs: 0,
    stalls: 0,
    badEchoes: 0,
    handshakeFailures: 0,
    connectFailures: 0,
    repliesReceived: 0,
    worstSentinelMillis: 0,
    elapsedMillis: 0,
    kinds: {}
  }
  private readonly ring: Array<FrameRecord> = []
  private readonly lastByConnection = new Map<number, FrameRecord>()
  private readonly sockets = new Set<Net.Socket>()
  private stopped = false
  readonly host: string

  constructor(readonly options: FuzzOptions) {
    this.host = options.host ?? "127.0.0.1"
  }

  /** Stops after the batches in flight; `destroy` also drops every socket at once. */
  stop(): void {
    this.stopped = true
  }

  destroy(): void {
    this.stopped = true
    for (const s of this.sockets) s.destroy()
  }

  /** The last frames sent (up to 64), oldest first. */
  recent(): ReadonlyArray<FrameRecord> {
    return [...this.ring]
  }

  /** The last frame each connection sent (the open ones and those that just closed). */
  lastFrames(): ReadonlyArray<FrameRecord> {
    return [...this.lastByConnection.values()]
  }

  /** A report of what was being sent, for a failure message. */
  describeRecent(count = 8): string {
    const lines = this.ring.slice(-count).map((f) =>
      `  seed ${f.seed} connection ${f.connection} frame #${f.index} (${f.kind}, ${f.length} bytes): ${f.hex}`
    )
    return `last frames sent (replay: --seed ${this.options.seed}):\n${lines.join("\n")}`
  }

  async run(): Promise<FuzzStats> {
    const started = Date.now()
    const lanes = this.options.connections ?? 4
    const progress = setInterval(() => {
      this.stats.elapsedMillis = Date.now() - started
      this.options.onProgress?.(this.stats)
    }, 1000)
    try {
      await Promise.all(Array.from({ length: lanes }, (_, lane) => this.lane(lane, lanes)))
    } finally {
      clearInterval(progress)
      this.stats.elapsedMillis = Date.now() - started
    }
    return this.stats
  }

  private done(): boolean {
    return this.stopped || this.stats.framesSent >= this.options.frames
  }

  private async lane(lane: number, lanes: number): Promise<void> {
    let consecutiveConnectFailures = 0
    for (let round = 0; !this.done(); round++) {
      const index = round * lanes + lane
      const ok = await this.connection(index)
      consecutiveConnectFailures = ok ? 0 : consecutiveConnectFailures + 1
      if (consecutiveConnectFailures >= 5) throw new Error(`cannot connect to ${this.host}:${this.options.port}`)
    }
  }

  private open(): Promise<Net.Socket | undefined> {
    return new Promise((resolve) => {
      const socket = Net.createConnection({ host: this.host, port: this.options.port })
      socket.setNoDelay(true)
      const onError = () => resolve(undefined)
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        this.sockets.add(socket)
        socket.once("close", () => this.sockets.delete(socket))
        resolve(socket)
      })
    })
  }

  private record(connection: number, index: number, kind: string, bytes: Uint8Array): void {
    const rec: FrameRecord = {
      seed: this.options.seed,
      connection,
      index,
      kind,
      length: bytes.length,
      hex: hexOf(bytes)
    }
    this.ring.push(rec)
    if (this.ring.length > 64) this.ring.shift()
    this.lastByConnection.set(connection, rec)
    if (this.lastByConnection.size > 64) this.lastByConnection.delete(this.lastByConnection.keys().next().value!)
  }

  /** One connection's life; false if it could not be opened. */
  private async connection(index: number): Promise<boolean> {
    const rng = new Rng(deriveSeed(this.options.seed, index))
    const version: Message.WireVersion = this.options.dialect ?? (rng.chance(0.5) ? 5 : 6)
    const socket = await this.open()
    if (socket === undefined) {
      this.stats.connectFailures++
      return false
    }
    const stats = this.stats
    stats.connectionsOpened++
    const session = new Session(socket, version, stats)
    const gen = new FrameGen(rng, version, session.refs)
    const timeout = this.options.sentinelTimeoutMillis ?? 2000
    try {
      // the root, so that frames can refer to it
      await session.write(requestFrame(version, 0, Handler.GETROOT, [Label.VALUE, []]))
      const root = await session.awaitSeq(0, 5000)
      if (root !== "echo") {
        if (root === "timeout") stats.handshakeFailures++
        else stats.closedByServer++
        return true
      }
      const budget = rng.range(20, this.options.maxFramesPerConnection ?? 3000)
      let sent = 0
      let seq = 1
      let batchNo = 0
      while (sent < budget && !session.closed && !this.done()) {
        const n = rng.range(1, this.options.maxBatch ?? 48)
        const parts: Array<Uint8Array> = []
        let lies = false
        // a frame likely to be fatal comes last in its batch (or, now and then, anywhere), so that
        // connections live long enough to carry many frames
        const riskyLast = rng.chance(this.options.riskyBatchShare ?? 0.3)
        for (let i = 0; i < n; i++) {
          const f = gen.frame(seq++, (riskyLast && i === n - 1) || rng.chance(0.005))
          this.record(index, sent + i, f.kind, f.bytes)
          const tag = f.kind.split(" ").slice(0, 2).join(" ")
          stats.kinds[tag] = (stats.kinds[tag] ?? 0) + 1
          parts.push(f.bytes)
          if (f.lies) {
            lies = true
            break
          }
        }
        const sentinelSeq = SENTINEL_BASE + batchNo++
        const data = Buffer.from(`sentinel ${index}/${batchNo}`)
        session.expected.set(sentinelSeq, data)
        parts.push(requestFrame(version, sentinelSeq, Handler.PING, [Label.VALUE, [data]]))
        const all = Buffer.concat(parts)
        sent += parts.length - 1
        stats.framesSent += parts.length - 1
        stats.sentinels++
        stats.bytesSent += all.length
        const t0 = Date.now()
        const answered = session.awaitSeq(sentinelSeq, lies ? Math.min(timeout, 300) : timeout)
        await session.write(all)
        const outcome = await answered
        if (outcome === "echo") stats.worstSentinelMillis = Math.max(stats.worstSentinelMillis, Date.now() - t0)
        else if (outcome === "bad") stats.badEchoes++
        else if (outcome === "timeout") {
          if (!lies) stats.stalls++
          break
        }
      }
      if (session.closed) {
        stats.closedByServer++
        return true
      }
      // hang up: FIN, RST, or CLOSE
      stats.closedByUs++
      session.closedByUs = true
      const how = rng.int(10)
      if (how < 6) socket.end()
      else if (how < 8) socket.destroy()
      else {
        await session.write(requestFrame(version, seq, Handler.CLOSE, [Label.VALUE, []]))
        socket.end()
      }
      await session.awaitClose(3000)
      return true
    } finally {
      socket.destroy()
    }
  }
}

/** `--name value` pairs of a command line. */
export const parseArgs = (argv: ReadonlyArray<string>): Map<string, string> => {
  const out = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith("--")) continue
    const eq = a.indexOf("=")
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1))
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) out.set(a.slice(2), argv[++i])
    else out.set(a.slice(2), "true")
  }
  return out
}
