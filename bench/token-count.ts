// Counts occurrences of fixed byte tokens in a response as its chunks arrive.
//
// The read workloads must verify row counts without JSON.parse-ing tens of megabytes (the client
// would then be the bottleneck). The bench writes every doc itself, so it knows that a token such
// as `"changes"` or `"doc"` appears once per row and never inside a body; counting tokens is then
// an exact row count. A token split across two chunks is still counted exactly once.

export class TokenCounter {
  private readonly tokens: Buffer[];
  private readonly counts: number[];
  /** The last (longest token length - 1) bytes seen, so a token split across chunks is found. */
  private carry: Buffer = Buffer.alloc(0);
  private readonly carryMax: number;
  /** Absolute offset just past each token's last counted match, so matches never overlap. */
  private readonly endOfLast: number[];
  /** Absolute offset of the first byte of `carry`. */
  private carryStart = 0;

  constructor(tokens: readonly string[]) {
    this.tokens = tokens.map((t) => Buffer.from(t, 'utf8'));
    if (this.tokens.some((t) => t.length === 0)) throw new Error('empty token');
    this.counts = this.tokens.map(() => 0);
    this.endOfLast = this.tokens.map(() => 0);
    this.carryMax = Math.max(0, ...this.tokens.map((t) => t.length - 1));
  }

  push(chunk: Buffer): void {
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    for (let k = 0; k < this.tokens.length; k++) {
      const token = this.tokens[k]!;
      // A match lying wholly inside the carry was counted with the previous chunk; the carry is
      // shorter than any token, so every match found here ends in the new chunk.
      let from = Math.max(0, this.carry.length - (token.length - 1), this.endOfLast[k]! - this.carryStart);
      let n = 0;
      for (;;) {
        const at = data.indexOf(token, from);
        if (at < 0) break;
        n++;
        from = at + token.length;
      }
      if (n > 0) this.endOfLast[k] = this.carryStart + from;
      this.counts[k]! += n;
    }
    const keep = Math.min(this.carryMax, data.length);
    this.carryStart += data.length - keep;
    this.carry = Buffer.from(data.subarray(data.length - keep));
  }

  /** Counts in the order the tokens were given. */
  result(): number[] {
    return [...this.counts];
  }
}
