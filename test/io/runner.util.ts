/** Shared by the nftables tests (nft-traffic, flow-label-intercept): a command runner that records and answers. */
import type { CommandResult, CommandRunner } from '../../src/daemon/system.js';
import { parseIpv6 } from '../../src/wire/address.js';

export function ip6(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad test address ${text}`);
  return a;
}

export interface Call { readonly line: string; readonly input: string | undefined }

/** A runner that records each call and answers from `answer` (default: success, no output). */
export function fakeRunner() {
  const f = {
    calls: [] as Call[],
    answer: (_line: string, _input: string | undefined): Partial<CommandResult> | undefined => undefined,
    runner: (async (file, args, input) => {
      const line = [file, ...args].join(' ');
      f.calls.push({ line, input });
      return { code: 0, stdout: '', stderr: '', ...f.answer(line, input) };
    }) as CommandRunner,
  };
  return f;
}
