/**
 * The progress bar (src/cli/progress.ts) draws on a terminal and stays silent on a pipe,
 * so JSON on stdout and logs stay clean.
 */
import { describe, expect, it } from 'vitest';
import { progressBar } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const stream = { isTTY, write: (s: string) => { written.push(s); return true; } } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

describe('progressBar', () => {
  it('writes nothing when the stream is not a terminal', () => {
    const { stream, written } = fakeStream(false);
    const bar = progressBar('search', 1000, stream);
    bar.update(10);
    bar.update(500);
    bar.finish();
    expect(written).toEqual([]);
  });

  it('on a terminal draws one line with the share of the expected work, then erases it', () => {
    const { stream, written } = fakeStream(true);
    let clock = 1000;
    const bar = progressBar('CGA Sec 2 search', 1000, stream, () => clock);
    clock += 50;
    bar.update(500);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^\rCGA Sec 2 search \[#{12}\.{12}\] 50% of expected, 500 hashes, /);
    clock += 150;
    bar.update(600); // within 200 ms of the last draw: skipped
    expect(written).toHaveLength(1);
    bar.finish();
    expect(written[1]).toBe('\r\x1b[2K');
  });
});
