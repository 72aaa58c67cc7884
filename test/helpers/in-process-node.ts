// An in-memory node without a socket, for supertest black-box tests (koa's own tests do the same).

import { after, before } from 'node:test';
import supertest from 'supertest';
import { openNode, type NodeOptions, type OpenedNode } from '../../server/node.js';

export interface TestNode {
  node: OpenedNode;
  request: ReturnType<typeof supertest>;
  close(): Promise<void>;
}

export async function inProcessNode(opts: NodeOptions = {}): Promise<TestNode> {
  const node = await openNode({ inMemory: true, ...opts });
  const server = node.app.callback();
  return {
    node,
    request: supertest(server),
    close: () => node.shutdown(),
  };
}

/**
 * One node for a whole test file: opened before its first test (and handed to `opened`), closed
 * after its last.
 */
export function nodeForFile(opened: (t: TestNode) => void, opts: NodeOptions = {}): void {
  let t: TestNode | undefined;
  before(async () => {
    t = await inProcessNode(opts);
    opened(t);
  });
  after(() => t?.close());
}
