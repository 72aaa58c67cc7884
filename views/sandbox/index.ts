// Public surface of the design-code sandbox inside views/.
export { DesignSandbox, type DesignDoc, type Emit, type ReduceJob, type SandboxLogger, type SandboxOptions, type RenderResponse, type ListIo, type ListOutput } from './design-sandbox.js';
export { SandboxPool } from './sandbox-pool.js';
export * as sandboxLimits from './limits.js';
