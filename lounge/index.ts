// The lounge's public surface: what the CLI, the benchmarks and other parts' tests may use.
// Everything else in lounge/ is internal.
//
// - `startLounge(config, {port, host})` runs the proxy in this process; `loadConfig(path)`
//   and `validateConfig(raw)` turn lounge.json into the config it takes (ConfigError names
//   the problem in a bad one); `generateConfig` writes one for N nodes, q ranges, n copies.
// - `startCluster(opts)` runs N node processes and a lounge on one machine (`chaise cluster`).
// - `main('lounge' | 'cluster', args)` is the CLI (server/cli.ts forwards to it).
// - Placement is exported for tools and tests: `crc32`, `ShardMap`, `shardName`.

export { startLounge, Lounge, type RunningLounge } from './lounge.js';
export { loadConfig } from './config/load-config.js';
export { validateConfig, ConfigError } from './config/validate-config.js';
export { generateConfig, type GenerateOptions, type GeneratedConfig } from './config/generate-config.js';
export type { LoungeConfig, HealthConfig, SyncConfig, TimeoutConfig } from './config/lounge-config.js';
export { startCluster, type ClusterOptions, type RunningCluster } from './cluster/cluster.js';
export { NodeProcess, type NodeProcessOptions } from './cluster/node-process.js';
export { crc32, hex8 } from './placement/crc32.js';
export { ShardMap, shardName, parseShardName } from './placement/shard-map.js';
export { generateRanges, parseRange, type Range } from './placement/ranges.js';
export { encodeSince, decodeSince, type SeqEntry, type Since } from './changes/since-token.js';
export { main } from './cli.js';
