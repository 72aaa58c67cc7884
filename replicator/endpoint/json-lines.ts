// Splits a byte stream into lines, for `_changes?feed=continuous`.
//
// A continuous feed is one JSON object per line, with bare newlines as
// heartbeats. Network chunks cut lines (and multi-byte UTF-8 characters)
// anywhere, so lines are cut on the newline *byte* and decoded whole.
// Pure: no I/O, no timers.

const NEWLINE = 0x0a;

/** A line longer than this is not a change row; refusing it bounds memory against a broken peer. */
export const LINE_BYTES_MAX = 64 * 1024 * 1024;

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Feeds one chunk; returns the lines it completed (without the newline, possibly empty). */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const at = chunk.indexOf(NEWLINE, start);
      if (at === -1) break;
      const piece = chunk.subarray(start, at);
      if (this.pendingBytes > 0) {
        this.pending.push(piece);
        lines.push(Buffer.concat(this.pending).toString('utf8'));
        this.pending = [];
        this.pendingBytes = 0;
      } else {
        lines.push(piece.toString('utf8'));
      }
      start = at + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.pending.push(rest);
      this.pendingBytes += rest.length;
      if (this.pendingBytes > LINE_BYTES_MAX) {
        throw new Error(`continuous feed line longer than ${LINE_BYTES_MAX} bytes`);
      }
    }
    return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }

  /** What is left when the stream ends (a last line without a newline), or null. */
  end(): string | null {
    if (this.pendingBytes === 0) return null;
    const line = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    return line;
  }
}
