// An in-memory node without a socket, for supertest black-box tests (koa's own tests do the same).

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
