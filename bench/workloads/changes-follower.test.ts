// The follower must stamp each id on its first appearance whatever the chunking (a row split
// across chunks, several rows in one chunk, heartbeat newlines), report ids that never came, and
// say why when the feed ends. Served by a plain node:http server on a free loopback port.

import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { ChangesFollower } from './changes-follower.js';

/** Serves one continuous feed made of `chunks`, written 5 ms apart; records the request URL. */
async function feedServer(chunks: string[], end: boolean): Promise<{ url: string; requested: string[]; close(): Promise<void> }> {
  const requested: string[] = [];
  const server = http.createServer((req, res) => {
    requested.push(req.url ?? '');
    res.writeHead(req.url?.startsWith('/missing/') ? 404 : 200, { 'content-type': 'application/json' });
    if (req.url?.startsWith('/missing/')) return void res.end('{"error":"not_found","reason":"Database does not exist."}');
    let i = 0;
    const timer = setInterval(() => {
      if (i < chunks.length) res.write(chunks[i++]!);
      else {
        clearInterval(timer);
        if (end) res.end();
      }
    }, 5);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requested,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

test('stamps ids across chunk boundaries and heartbeats, and reports the missing', async () => {
  const srv = await feedServer(
    ['\n', '{"seq":1,"id":"a","changes":[{"rev":"1-x"}]}\n{"seq":2,"id":"b","chan', 'ges":[{"rev":"1-y"}]}\n', '\n', '{"seq":3,"id":"a","changes":[{"rev":"2-z"}]}\n'],
    false,
  );
  const follower = await ChangesFollower.open(srv.url, 'db one', 7);
  try {
    assert.deepEqual(await follower.waitFor(['a', 'b'], 5_000), []);
    const firstA = follower.seenAt('a');
    assert.ok(firstA !== undefined && follower.seenAt('b') !== undefined);
    assert.ok(firstA <= follower.seenAt('b')!);
    assert.deepEqual(await follower.waitFor(['c'], 100), ['c']);
    assert.equal(follower.seenAt('a'), firstA, 'a later change of the same id keeps the first stamp');
    assert.equal(follower.failure, undefined);
    assert.equal(srv.requested[0], '/db%20one/_changes?feed=continuous&heartbeat=1000&since=7');
  } finally {
    follower.close();
    await srv.close();
  }
});

test('a feed that ends is a failure, and waiting stops at once', async () => {
  const srv = await feedServer(['{"seq":1,"id":"a","changes":[]}\n', '{"last_seq":1}\n'], true);
  const follower = await ChangesFollower.open(srv.url, 'db', 'now');
  try {
    const started = Date.now();
    assert.deepEqual(await follower.waitFor(['a', 'never'], 5_000), ['never']);
    assert.ok(Date.now() - started < 4_000);
    assert.match(follower.failure ?? '', /ended/);
    assert.equal(srv.requested[0], '/db/_changes?feed=continuous&heartbeat=1000&since=now');
  } finally {
    follower.close();
    await srv.close();
  }
});

test('a feed that does not answer 200 is refused', async () => {
  const srv = await feedServer([], false);
  try {
    await assert.rejects(ChangesFollower.open(srv.url, 'missing', 0), /answered 404/);
  } finally {
    await srv.close();
  }
});
