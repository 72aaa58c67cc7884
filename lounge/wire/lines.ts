// Splits a streamed body into lines (CouchDB's continuous `_changes`: one JSON value per
// line, blank lines as heartbeats). Input may be split anywhere, including inside a UTF-8
// character (the caller decodes with a StringDecoder). Pure.

export class LineSplitter {
  private rest = '';

  /** Feeds text; returns the complete lines it finished, without their line breaks. */
  push(text: string): string[] {
    const parts = (this.rest + text).split('\n');
    this.rest = parts.pop() as string;
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }

  /** The unterminated last line, if any. */
  end(): string[] {
    const r = this.rest;
    this.rest = '';
    return r.trim() === '' ? [] : [r];
  }
}
