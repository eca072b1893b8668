/**
 * Channel framing (PROTOCOL.md §1): `u32 BE length` + `u8 compressed` + payload + `0x0A`.
 *
 * Payloads over 3000 bytes are zlib-compressed at level 1, like Python's `Channel`; compressed
 * frames of any size are inflated. `FrameDecoder` is a synchronous, streaming parser: feed it TCP
 * chunks as they come (split or merged) and it hands out whole payloads.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Zlib from "node:zlib"

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
export const encodeFrame = (payload: Uint8Array, options?: EncodeOptions): Buffer => {
  let body = payload
  let flag = 0
  if (payload.length > COMPRESSION_THRESHOLD && options?.compress !== false) {
    body = Zlib.deflateSync(payload, { level: COMPRESSION_LEVEL })
    flag = 1
  }
  const frame = Buffer.allocUnsafe(HEADER_SIZE + body.length + 1)
  frame.writeUInt32BE(body.length, 0)
  frame[4] = flag
  frame.set(body, HEADER_SIZE)
  frame[HEADER_SIZE + body.length] = TRAILER
  return frame
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
 * @since 0.1.0 @category decoding
 */
export class FrameDecoder {
  readonly maxFrameSize: number
  private pending: Buffer = Buffer.alloc(0)

  constructor(options?: DecoderOptions) {
    this.maxFrameSize = options?.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE
  }

  /** Bytes received that do not yet make a whole frame. */
  get buffered(): number {
    return this.pending.length
  }

  /**
   * Set when bytes after some complete frames of a chunk were invalid: `push` returned those frames
   * and every later `push` throws this.
   */
  failure: FrameError | undefined

  push(chunk: Uint8Array): Array<Uint8Array> {
    if (this.failure !== undefined) throw this.failure
    let buf: Buffer = this.pending.length === 0
      ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      : Buffer.concat([this.pending, chunk])
    const out: Array<Uint8Array> = []
    let pos = 0
    try {
      while (buf.length - pos >= HEADER_SIZE) {
        const length = buf.readUInt32BE(pos)
        if (length > this.maxFrameSize) {
          throw new FrameError({
            reason: "TooLarge",
            detail: `frame of ${length} bytes exceeds the maximum of ${this.maxFrameSize}`
          })
        }
        const end = pos + HEADER_SIZE + length + 1
        if (buf.length < end) break
        const compressed = buf[pos + 4] !== 0
        const body = buf.subarray(pos + HEADER_SIZE, pos + HEADER_SIZE + length)
        out.push(compressed ? this.inflate(body) : body)
        pos = end
      }
    } catch (e) {
      this.pending = Buffer.alloc(0)
      if (out.length === 0) throw e
      this.failure = e as FrameError
      return out
    }
    // keep the unfinished tail; copy so the caller's chunk can be reused
    buf = buf.subarray(pos)
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf)
    return out
  }

  /** Call at end of stream: throws if a partial frame was left behind. */
  end(): void {
    if (this.pending.length > 0) {
      const n = this.pending.length
      this.pending = Buffer.alloc(0)
      throw new FrameError({ reason: "Truncated", detail: `stream ended inside a frame (${n} bytes buffered)` })
    }
  }

  private inflate(body: Uint8Array): Uint8Array {
    try {
      return Zlib.inflateSync(body, { maxOutputLength: Math.max(this.maxFrameSize, 1) })
    } catch (cause) {
      throw new FrameError({ reason: "Inflate", detail: String((cause as Error)?.message ?? cause) })
    }
  }
}
