/**
 * The requests of a connection that wait for their replies, by seq.
 *
 * The newest request sits in a slot of its own and the others in a Map. A caller that waits for
 * each reply (`yield* root.add(i, 1)` in a loop) has one request pending at a time, and a Map entry
 * made and deleted per call costs its hash table a rebuild every few calls: garbage that a server or
 * client holding thousands of connections makes on every one of them.
 *
 * @since 0.1.0
 */

/**
 * Requests awaiting replies, by seq.
 *
 * @since 0.1.0 @category models
 */
export class PendingRequests<P> {
  private newestSeq = 0
  private newest: P | undefined = undefined
  /** made when a second request is pending at once: a connection's first call needs no Map */
  private older: Map<number, P> | undefined = undefined

  /** How many requests are pending. */
  get size(): number {
    return (this.older?.size ?? 0) + (this.newest === undefined ? 0 : 1)
  }

  /** Adds request `seq`: seqs only grow, so it is the newest. */
  add(seq: number, request: P): void {
    if (this.newest !== undefined) (this.older ??= new Map()).set(this.newestSeq, this.newest)
    this.newestSeq = seq
    this.newest = request
  }

  /** Removes and returns request `seq`, if it is pending. */
  take(seq: number): P | undefined {
    if (seq === this.newestSeq && this.newest !== undefined) {
      const request = this.newest
      this.newest = undefined
      return request
    }
    const older = this.older
    if (older === undefined || older.size === 0) return undefined
    const request = older.get(seq)
    if (request !== undefined) older.delete(seq)
    return request
  }

  /** Calls `f` with each pending request and its seq, oldest first (`f` may take them). */
  forEach(f: (request: P, seq: number) => void): void {
    const newest = this.newest
    const newestSeq = this.newestSeq
    // a Map's iteration goes on correctly when entries are deleted
    const older = this.older
    if (older !== undefined && older.size > 0) { for (const [seq, request] of older) f(request, seq) }
    // one added meanwhile moved it among the older ones, where the loop above visited it
    if (newest !== undefined && this.newest === newest) f(newest, newestSeq)
  }

  /** Removes and returns every pending request, oldest first. */
  takeAll(): Array<P> {
    const all = this.older === undefined ? [] : [...this.older.values()]
    if (this.newest !== undefined) all.push(this.newest)
    this.older = undefined
    this.newest = undefined
    return all
  }
}
