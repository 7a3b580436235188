/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API to a vigild on 127.0.0.1:7601; the built
// files in dist/ are served by vigild itself (--dashboard-dir).
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: {
      '/v1/live': { target: 'ws://127.0.0.1:7601', ws: true },
      '/v1': 'http://127.0.0.1:7601',
    },
  },
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
});
