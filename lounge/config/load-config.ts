// Reads lounge.json from disk and validates it; every failure (missing file, bad JSON,
// bad map) becomes a ConfigError that names the file and the problem. The only I/O in
// config/.

import { readFileSync } from 'node:fs';
import type { LoungeConfig } from './lounge-config.js';
import { ConfigError, validateConfig } from './validate-config.js';

export function loadConfig(path: string): LoungeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  try {
    return validateConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${path}: ${e.message}`);
    throw e;
  }
}
