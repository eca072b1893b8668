/**
 * Channel framing (PROTOCOL.md §1): `u32 BE length` + `u8 compressed` + payload + `0x0A`.
 *
 * Payloads over 3000 bytes are zlib-compressed at level 1, like Python's `Channel` (in Node; browser
 * bundles send every frame raw, see `Compression.ts`); compressed frames of any size are inflated. `FrameDecoder` is a synchronous, streaming parser: feed it TCP
 * chunks as they come (split or merged) and it hands out whole payloads.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Brine from "./Brine.js"
import * as Bytes from "./Bytes.js"
import * as Compression from "./Compression.js"

/** Payloads longer than this are compressed (exactly 3000 is sent raw). @since 0.1.0 */
export const COMPRESSION_THRESHOLD = 3000
/** zlib level used for compressed frames. @since 0.1.0 */
export const COMPRESSION_LEVEL = 1
/** Default largest payload accepted from a peer (64 MiB). @since 0.1.0 */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024

const HEADER_SIZE = 5
const TRAILER = 0x0a

/**
 * A frame the decoder cannot accept: too large, not inflatable, or cut short by end of stream.
 *
 * @since 0.1.0 @category errors
 */
export class FrameError extends Data.TaggedError("FrameError")<{
  readonly reason: "TooLarge" | "Inflate" | "Truncated"
  readonly detail: string
}> {
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

/** @since 0.1.0 @category models */
export interface EncodeOptions {
  /** Compress payloads over the threshold (default true, as Python does). */
  readonly compress?: boolean | undefined
}

/**
 * Builds one complete frame around `payload`.
 *
 * @since 0.1.0 @category encoding
 */
export const encodeFrame = (payload: Uint8Array, options?: EncodeOptions): Uint8Array => {
  const deflated = compressed(payload, options)
  const body = deflated ?? payload
  const frame = Bytes.allocUnsafe(HEADER_SIZE + body.length + 1)
  Bytes.writeUint32BE(frame, 0, body.length)
  frame[4] = deflated === undefined ? 0 : 1
  frame.set(body, HEADER_SIZE)
  frame[HEADER_SIZE + body.length] = TRAILER
  return frame
}

/**
 * Starts a frame at `w`'s position, for a payload written into `w` right after it: the header is
 * filled in by {@link endFrame}. Returns where the frame starts. Frames built in place need no
 * buffer of their own, so many of them can leave in one write.
 *
 * @since 0.1.0 @category encoding
 */
export const beginFrame = (w: Brine.Writer): number => {
  const start = w.pos
  w.ensure(HEADER_SIZE)
  w.pos += HEADER_SIZE
  return start
}

/**
 * Completes the frame begun at `start` around the payload written since, compressed as
 * {@link encodeFrame} would. Returns the payload's length (before compression).
 *
 * @since 0.1.0 @category encoding
 */
export const endFrame = (w: Brine.Writer, start: number, options?: EncodeOptions): number => {
  const bodyStart = start + HEADER_SIZE
  const payloadLength = w.pos - bodyStart
  const deflated = compressed(w.buf.subarray(bodyStart, w.pos), options)
  if (deflated !== undefined) {
    w.pos = bodyStart
    w.bytes(deflated)
  }
  Bytes.writeUint32BE(w.buf, start, w.pos - bodyStart)
  w.buf[start + 4] = deflated === undefined ? 0 : 1
  w.byte(TRAILER)
  return payloadLength
}

/** `payload` deflated, when that is asked for, worth trying and makes it shorter. */
const compressed = (payload: Uint8Array, options: EncodeOptions | undefined): Uint8Array | undefined => {
  const deflate = Compression.deflate
  if (
    payload.length <= COMPRESSION_THRESHOLD || options?.compress === false || deflate === undefined ||
    !worthCompressing(payload, deflate)
  ) return undefined
  const deflated = deflate(payload, COMPRESSION_LEVEL)
  // the receiver reads the flag, so a payload that did not shrink is sent as it is
  return deflated.length < payload.length ? deflated : undefined
}

/** Payloads at least this long are compressed only if a sample of them shrinks. */
const SAMPLE_FROM = 64 * 1024
const SAMPLE_SIZE = 8 * 1024

/**
 * Whether deflating `payload` will pay: random or already compressed bytes (uploads, images) do
 * not shrink, and deflating megabytes of them only costs CPU on both sides. Large payloads are
 * judged by a sample from their middle.
 */
const worthCompressing = (
  payload: Uint8Array,
  deflate: (payload: Uint8Array, level: number) => Uint8Array
): boolean => {
  if (payload.length < SAMPLE_FROM) return true
  const start = Math.floor((payload.length - SAMPLE_SIZE) / 2)
  const sample = payload.subarray(start, start + SAMPLE_SIZE)
  return deflate(sample, COMPRESSION_LEVEL).length < SAMPLE_SIZE * 0.9
}

/** @since 0.1.0 @category models */
export interface DecoderOptions {
  /** Largest payload (as sent, before inflation) accepted; also caps the inflated size. */
  readonly maxFrameSize?: number | undefined
}

/**
 * Streaming frame parser. `push` returns the payloads completed by the chunk (possibly none,
 * possibly several) and throws `FrameError` when the stream cannot be a valid channel.
 *
 * Linear in the bytes received: a frame that arrives whole inside one chunk is handed out as a
 * view of that chunk; a frame split across chunks keeps copies of its parts (the caller may reuse
 * its chunk buffer) and is joined once, in one allocation, when its last byte arrives. Memory held
 * is what the peer actually sent, never what a header merely announces.
 *
 * @since 0.1.0 @category decoding
 */
export class FrameDecoder {
  readonly maxFrameSize: number
  private readonly header = new Uint8Array(HEADER_SIZE)
  private headerFill = 0
  /** the frame being received across chunks: its payload length, flag and the parts so far */
  private length = 0
  private compressed = false
  private parts: Array<Uint8Array> | undefined
  private received = 0

  constructor(options?: DecoderOptions) {
    this.maxFrameSize = options?.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE
  }

  /** Bytes received that do not yet make a whole frame. */
  get buffered(): number {
    return this.parts === undefined ? this.headerFill : HEADER_SIZE + this.received
  }

  /**
   * Set when bytes after some complete frames of a chunk were invalid: `push` returned those frames
   * and every later `push` throws this.
   */
  failure: FrameError | undefined

  push(chunk: Uint8Array): Array<Uint8Array> {
    if (this.failure !== undefined) throw this.failure
    const out: Array<Uint8Array> = []
    const size = chunk.length
    let pos = 0
    try {
      while (pos < size) {
        if (this.parts === undefined) {
          if (this.headerFill === 0 && size - pos >= HEADER_SIZE) {
            this.length = Bytes.readUint32BE(chunk, pos)
            this.compressed = chunk[pos + 4] !== 0
            pos += HEADER_SIZE
          } else {
            const take = Math.min(HEADER_SIZE - this.headerFill, size - pos)
            this.header.set(chunk.subarray(pos, pos + take), this.headerFill)
            this.headerFill += take
            pos += take
            if (this.headerFill < HEADER_SIZE) break
            this.headerFill = 0
            this.length = Bytes.readUint32BE(this.header, 0)
            this.compressed = this.header[4] !== 0
          }
          if (this.length > this.maxFrameSize) {
            throw new FrameError({
              reason: "TooLarge",
              detail: `frame of ${this.length} bytes exceeds the maximum of ${this.maxFrameSize}`
            })
          }
          // payload and trailer
          const frameRest = this.length + 1
          if (size - pos >= frameRest) {
            out.push(this.payload(chunk.subarray(pos, pos + this.length)))
            pos += frameRest
            continue
          }
          this.parts = []
          this.received = 0
        }
        const take = Math.min(this.length + 1 - this.received, size - pos)
        this.parts.push(chunk.slice(pos, pos + take))
        this.received += take
        pos += take
        if (this.received < this.length + 1) break
        const whole = Bytes.concat(this.parts, this.length + 1)
        this.parts = undefined
        this.received = 0
        out.push(this.payload(whole.subarray(0, this.length)))
      }
    } catch (e) {
      this.parts = undefined
      this.received = 0
      this.headerFill = 0
      if (out.length === 0) throw e
      this.failure = e as FrameError
      return out
    }
    return out
  }

  /** Call at end of stream: throws if a partial frame was left behind. */
  end(): void {
    const n = this.buffered
    if (n > 0) {
      this.parts = undefined
      this.received = 0
      this.headerFill = 0
      throw new FrameError({ reason: "Truncated", detail: `stream ended inside a frame (${n} bytes buffered)` })
    }
  }

  private payload(body: Uint8Array): Uint8Array {
    return this.compressed ? this.inflate(body) : body
  }

  private inflate(body: Uint8Array): Uint8Array {
    try {
      return Compression.inflate(body, this.maxFrameSize)
    } catch (cause) {
      throw new FrameError({ reason: "Inflate", detail: String((cause as Error)?.message ?? cause) })
    }
  }
}
