// A lean HTTP/1.1 client for the concurrent request workloads (single-doc PUT and GET), in the
// manner of wrk and autocannon: a fixed set of keep-alive sockets, one request at a time on each,
// requests written as one buffer and answers parsed just enough (status, length or chunks, body).
//
// Why not node:http: on this 2-core machine the bench client shares the CPU with the server it
// measures. node:http's client costs ~100 µs of CPU per PUT, as much as the server's own work, so
// the client set the pace; this one costs ~25 µs. Both servers are measured with it. Everything
// else in the bench (streams, large bodies, control requests) uses node:http (http-client.ts).

import net from 'node:net';

export interface PoolResponse {
  status: number;
  body: Buffer;
}

interface Pending {
  resolve(res: PoolResponse): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  /** A HEAD answer has headers only. */
  head: boolean;
}

/** Answer heads longer than this are refused: no server we measure sends one. */
const headBytesMax = 64 * 1024;

class Connection {
  private buf: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  private closed = false;

  constructor(
    readonly socket: net.Socket,
    private readonly done: (c: Connection, reusable: boolean) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e) => this.fail(e.message));
    socket.on('close', () => this.fail('the server closed the connection'));
  }

  send(request: Buffer, pending: Pending): void {
    this.pending = pending;
    this.socket.write(request);
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private fail(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.reject(new Error(why));
    }
    this.done(this, false);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    const p = this.pending;
    if (!p) return this.fail('the server sent bytes nobody asked for');
    const headEnd = this.buf.indexOf('\r\n\r\n');
    if (headEnd === -1) {
      if (this.buf.length > headBytesMax) this.fail('answer head too long');
      return;
    }
    const head = this.buf.toString('latin1', 0, headEnd);
    const status = Number(head.slice(9, 12));
    if (!head.startsWith('HTTP/1.') || !(status >= 100 && status < 600)) return this.fail(`not an HTTP answer: ${head.slice(0, 40)}`);
    const lower = head.toLowerCase();
    const keepAlive = !/\r\nconnection: *close/.test(lower);
    let body: Buffer | undefined;
    let consumed = 0;
    if (p.head || status === 204 || status === 304) {
      body = Buffer.alloc(0);
      consumed = headEnd + 4;
    } else if (/\r\ntransfer-encoding: *chunked/.test(lower)) {
      let chunked: ReturnType<typeof dechunk>;
      try {
        chunked = dechunk(this.buf, headEnd + 4);
      } catch (e) {
        return this.fail(e instanceof Error ? e.message : String(e));
      }
      if (chunked === undefined) return;
      ({ body, consumed } = chunked);
    } else {
      const m = /\r\ncontent-length: *(\d+)/.exec(lower);
      if (!m) return this.fail('answer without a length (and not chunked)');
      const length = Number(m[1]);
      if (this.buf.length < headEnd + 4 + length) return;
      body = this.buf.subarray(headEnd + 4, headEnd + 4 + length);
      consumed = headEnd + 4 + length;
    }
    this.buf = this.buf.subarray(consumed);
    this.pending = undefined;
    clearTimeout(p.timer);
    if (!keepAlive || this.buf.length > 0) this.destroy();
    this.done(this, keepAlive && !this.closed);
    p.resolve({ status, body });
  }
}

/** A chunked body from `from` on, once complete; undefined while chunks are still arriving. */
function dechunk(buf: Buffer, from: number): { body: Buffer; consumed: number } | undefined {
  const parts: Buffer[] = [];
  let at = from;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const size = parseInt(buf.toString('latin1', at, lineEnd), 16);
    if (!Number.isFinite(size)) throw new Error('bad chunk size');
    if (size === 0) {
      // No trailers from the servers we measure: the body ends with an empty line.
      if (buf.length < lineEnd + 4) return undefined;
      return { body: Buffer.concat(parts), consumed: lineEnd + 4 };
    }
    if (buf.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

export class KeepAlivePool {
  private readonly idle: Connection[] = [];
  private readonly waiting: ((c: Connection) => void)[] = [];
  private open = 0;
  private closing = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    /** Extra request header lines (each ending in \r\n), e.g. Authorization. */
    private readonly extraHeaders: string,
    private readonly size: number,
    private readonly timeoutMs: number,
  ) {}

  request(method: string, path: string, body?: Buffer): Promise<PoolResponse> {
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nAccept: application/json\r\n${this.extraHeaders}`;
    head += body === undefined ? '\r\n' : `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const request = body === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body]);
    return new Promise((resolve, reject) => {
      this.connection((conn) => {
        const timer = setTimeout(() => {
          conn.destroy();
          this.release(conn, false);
          reject(new Error(`${method} ${path}: no answer within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
        conn.send(request, { resolve, reject: (e) => reject(new Error(`${method} ${path}: ${e.message}`)), timer, head: method === 'HEAD' });
      });
    });
  }

  close(): void {
    this.closing = true;
    for (const c of this.idle.splice(0)) c.destroy();
  }

  private connection(use: (c: Connection) => void): void {
    const c = this.idle.pop();
    if (c) return use(c);
    if (this.open < this.size) {
      this.open++;
      return use(new Connection(net.connect(this.port, this.host), (conn, reusable) => this.release(conn, reusable)));
    }
    this.waiting.push(use);
  }

  private release(conn: Connection, reusable: boolean): void {
    if (!reusable || this.closing) {
      conn.destroy();
      if (this.open > 0) this.open--;
      // A waiter gets a fresh connection in place of the one that went.
      const next = this.waiting.shift();
      if (next && !this.closing) this.connection(next);
      return;
    }
    const next = this.waiting.shift();
    if (next) next(conn);
    else this.idle.push(conn);
  }
}
