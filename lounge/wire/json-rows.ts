// An incremental reader for CouchDB's list answers: one JSON object whose rows sit in one
// array member (`rows` for _all_docs and views, `results` for _changes and _bulk_get,
// `docs` for _find), with a few scalar members around it (`total_rows`, `offset`,
// `last_seq`, `pending`, `bookmark`...).
//
// Why: the lounge merges shard answers as they stream, so it must see each row as soon as
// its bytes arrive, without waiting for (or holding) the whole answer, and without relying
// on the node's line breaks (CouchDB and Chaise format rows differently). It hands back each
// row's exact text, so rows can be forwarded byte for byte, and parses the other members.
//
// It guarantees: rows come out in order, each exactly once, as the complete JSON text of
// the element; members before and after the array are in `meta` as parsed values; input
// may be split anywhere (the caller decodes UTF-8 with a StringDecoder). Malformed input
// raises an Error. Pure: no I/O.

const enum S {
  ObjectStart,
  KeyOrEnd,
  Key,
  Colon,
  Value,
  InValue,
  AfterValue,
  ElemOrEnd,
  InElem,
  AfterElem,
  Done,
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

export class JsonRowsParser {
  /** Members other than the row array, parsed. */
  readonly meta: Record<string, unknown> = {};
  /** True once the row array has opened, i.e. every member before it is in `meta`. */
  arrayStarted = false;
  /** True once the closing brace of the object was read. */
  done = false;

  private buf = '';
  private pos = 0;
  private start = 0;
  private state = S.ObjectStart;
  private key = '';
  // Resumable scan of the value being captured.
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scalar = false;

  constructor(private readonly arrayKeys: readonly string[]) {}

  /** Feeds text; returns the rows completed by it, as JSON texts. */
  push(text: string): string[] {
    const rows: string[] = [];
    this.buf = this.buf.slice(this.start) + text;
    this.pos -= this.start;
    this.start = 0;
    const b = this.buf;
    while (this.pos < b.length) {
      const c = b.charCodeAt(this.pos);
      switch (this.state) {
        case S.ObjectStart:
          if (WS.has(c)) break;
          if (c !== 0x7b) throw this.fail('expected {');
          this.state = S.KeyOrEnd;
          break;
        case S.KeyOrEnd:
          if (WS.has(c) || c === 0x2c) break;
          if (c === 0x7d) {
            this.state = S.Done;
            this.done = true;
            break;
          }
          if (c !== 0x22) throw this.fail('expected a member name');
          this.begin(c);
          this.state = S.Key;
          break;
        case S.Key:
          if (this.scan(c)) {
            this.key = JSON.parse(b.slice(this.start, this.pos + 1)) as string;
            this.state = S.Colon;
          }
          break;
        case S.Colon:
          if (WS.has(c)) break;
          if (c !== 0x3a) throw this.fail('expected :');
          this.state = S.Value;
          break;
        case S.Value:
          if (WS.has(c)) break;
          if (c === 0x5b && this.arrayKeys.includes(this.key)) {
            this.arrayStarted = true;
            this.state = S.ElemOrEnd;
            break;
          }
          this.begin(c);
          if (this.scalar) {
            this.state = S.InValue;
            continue; // re-examine this char as part of the scalar
          }
          this.state = S.InValue;
          break;
        case S.InValue:
          if (this.scalar) {
            if (c === 0x2c || c === 0x7d || WS.has(c)) {
              this.meta[this.key] = JSON.parse(b.slice(this.start, this.pos));
              this.state = S.AfterValue;
              continue;
            }
            break;
          }
          if (this.scan(c)) {
            this.meta[this.key] = JSON.parse(b.slice(this.start, this.pos + 1));
            this.state = S.AfterValue;
          }
          break;
        case S.AfterValue:
          if (WS.has(c)) break;
          if (c === 0x2c) this.state = S.KeyOrEnd;
          else if (c === 0x7d) {
            this.state = S.Done;
            this.done = true;
          } else throw this.fail('expected , or }');
          break;
        case S.ElemOrEnd:
          if (WS.has(c)) break;
          if (c === 0x5d) {
            this.state = S.AfterValue;
            break;
          }
          this.begin(c);
          this.state = S.InElem;
          if (this.scalar) continue;
          break;
        case S.InElem:
          if (this.scalar) {
            if (c === 0x2c || c === 0x5d || WS.has(c)) {
              rows.push(b.slice(this.start, this.pos));
              this.state = S.AfterElem;
              continue;
            }
            break;
          }
          if (this.scan(c)) {
            rows.push(b.slice(this.start, this.pos + 1));
            this.state = S.AfterElem;
          }
          break;
        case S.AfterElem:
          if (WS.has(c)) break;
          if (c === 0x2c) this.state = S.ElemOrEnd;
          else if (c === 0x5d) this.state = S.AfterValue;
          else throw this.fail('expected , or ]');
          break;
        case S.Done:
          if (!WS.has(c)) throw this.fail('text after the end of the answer');
          break;
      }
      this.pos++;
    }
    // Keep only what an unfinished value still needs.
    if (this.state !== S.Key && this.state !== S.InValue && this.state !== S.InElem) this.start = this.pos;
    return rows;
  }

  /** Call at end of input; throws if the answer was cut short. */
  end(): void {
    if (!this.done) throw new Error('answer ended before its closing brace');
  }

  private begin(c: number): void {
    this.start = this.pos;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.scalar = c !== 0x7b && c !== 0x5b && c !== 0x22;
    if (!this.scalar) this.scan(c);
  }

  /** Advances the bracket/string scan by one char; true when the value just ended. */
  private scan(c: number): boolean {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === 0x5c) this.escaped = true;
      else if (c === 0x22) {
        this.inString = false;
        return this.depth === 0;
      }
      return false;
    }
    if (c === 0x22) {
      this.inString = true;
      return false;
    }
    if (c === 0x7b || c === 0x5b) this.depth++;
    else if (c === 0x7d || c === 0x5d) {
      this.depth--;
      return this.depth === 0;
    }
    return false;
  }

  private fail(what: string): Error {
    return new Error(`malformed answer at char ${this.pos}: ${what} near ${JSON.stringify(this.buf.slice(Math.max(0, this.pos - 20), this.pos + 20))}`);
  }
}
