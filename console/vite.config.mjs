// Builds the console (console/src) into dist/console/app, served at /_utils/ by the node and the
// lounge (console/server/static-files.ts). Runs from `npm install`'s prepare step and `npm run build`.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/_utils/',
  logLevel: 'warn',
  // Preact's automatic JSX runtime, through Vite's own transformer (no React plugin needed).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console/app', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    // One bundle of ~300 kB (CodeMirror is most of it) is fine for an admin console on a LAN.
    chunkSizeWarningLimit: 1024,
  },
});
