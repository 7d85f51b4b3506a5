/**
 * The package version, read from the package.json above this module (from src/ under
 * vitest, or dist/src/ when compiled), for `shim6 --version` and shim6d's status.
 */
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'shim6' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}
