// Vitest configuration. Kept under test/ so the top-level layout stays as DEVELOPERS.md fixes it.
// The JSON report is what .ci/run reads to print its closing "N passed, N failed" line.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    testTimeout: 30_000,
  },
});
