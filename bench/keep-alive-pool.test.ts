// The lean client must read every answer shape the measured servers send, reuse its sockets, and
// fail (not hang) when a server misbehaves.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KeepAlivePool } from './keep-alive-pool.js';

async function withServer(handler: http.RequestListener, run: (port: number, sockets: () => number) => Promise<void>): Promise<void> {
  let sockets = 0;
  const server = http.createServer(handler);
  server.on('connection', () => sockets++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run((server.address() as AddressInfo).port, () => sockets);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('reads sized, chunked, empty and HEAD answers, over at most `size` sockets', async () => {
  await withServer(
    (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url === '/chunked') {
          res.write('{"a":');
          setTimeout(() => res.end('1}'), 5);
        } else if (req.url === '/empty') {
          res.writeHead(204).end();
        } else {
          res.writeHead(req.method === 'PUT' ? 201 : 200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ method: req.method, url: req.url, body, auth: req.headers.authorization ?? null }));
        }
      });
    },
    async (port, sockets) => {
      const pool = new KeepAlivePool('127.0.0.1', port, 'Authorization: Basic eDp5\r\n', 4, 5_000);
      try {
        const put = await pool.request('PUT', '/db/doc', Buffer.from('{"x":"é"}'));
        assert.equal(put.status, 201);
        assert.deepEqual(JSON.parse(put.body.toString()), { method: 'PUT', url: '/db/doc', body: '{"x":"é"}', auth: 'Basic eDp5' });
        assert.deepEqual(JSON.parse((await pool.request('GET', '/chunked')).body.toString()), { a: 1 });
        assert.deepEqual(await pool.request('GET', '/empty'), { status: 204, body: Buffer.alloc(0) });
        const head = await pool.request('HEAD', '/x');
        assert.equal(head.status, 200);
        assert.equal(head.body.length, 0);
        const many = await Promise.all(Array.from({ length: 200 }, (_, i) => pool.request('GET', `/n${i}`)));
        many.forEach((r, i) => assert.equal(JSON.parse(r.body.toString()).url, `/n${i}`));
        assert.ok(sockets() <= 4, `${sockets()} sockets for a pool of 4`);
      } finally {
        pool.close();
      }
    },
  );
});

test('a server that closes or never answers fails the request', async () => {
  await withServer(
    (req, res) => {
      if (req.url === '/close') req.socket.destroy();
      else if (req.url === '/bye') res.writeHead(200, { connection: 'close', 'content-length': '2' }).end('ok');
      // /hang: no answer at all
    },
    async (port) => {
      const pool = new KeepAlivePool('127.0.0.1', port, '', 2, 200);
      try {
        await assert.rejects(pool.request('GET', '/close'), /closed the connection/);
        assert.deepEqual(await pool.request('GET', '/bye'), { status: 200, body: Buffer.from('ok') });
        await assert.rejects(pool.request('GET', '/hang'), /no answer within 200 ms/);
        // The pool still works after all that.
        await assert.rejects(pool.request('GET', '/close'), /closed the connection/);
      } finally {
        pool.close();
      }
    },
  );
});
