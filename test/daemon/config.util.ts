/** Helpers for the configuration tests: the problems a document is refused with. */
import { expect } from 'vitest';
import { ConfigError, validateConfig } from '../../src/daemon/config.js';

/** Every problem validateConfig reports for `doc` (none when it is valid). */
export function configIssues(doc: unknown): { path: string; message: string }[] {
  try {
    validateConfig(doc);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.issues];
    throw e;
  }
  return [];
}

/** The single problem reported for `doc`. */
export function onlyConfigIssue(doc: unknown): { path: string; message: string } {
  const list = configIssues(doc);
  expect(list, JSON.stringify(list)).toHaveLength(1);
  return list[0]!;
}
