// What the HTTP layer needs from the rest of the node, handed to every route module.

import type { Catalog } from '../storage/catalog.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { Limits } from '../limits.js';
import type { UserCtx } from '../auth/access.js';

export interface NodeConfig {
  /** Shown in `GET /` and used in `Location` headers. */
  version: string;
  cors?: { origins: string[]; credentials: boolean; headers: string[]; methods: string[]; maxAgeSeconds: number };
}

export interface Services {
  catalog: Catalog;
  auth: Authenticator;
  limits: Limits;
  config: NodeConfig;
  /** Resolves when the node shuts down; long-lived feeds end on it. */
  closing: AbortSignal;
}

declare module 'koa' {
  interface DefaultState {
    user: UserCtx;
  }
}
