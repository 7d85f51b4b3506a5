/**
 * Fixtures for engine tests: a seeded random source, HBA identities for two hosts in
 * 2001:db8::/32, and a lossless in-process wire between engines that delivers 'send'
 * actions as real encoded packets.
 */
import { createHbaIdentity } from '../../src/api/identity.js';
import { nodeCryptoProvider } from '../../src/crypto/provider-node.js';
import { SeededRandom } from '../../src/sim/random.js';
import type { LocalIdentity } from '../../src/context/types.js';
import { encodeAction, ShimEngine, type EngineAction, type EngineOptions } from '../../src/engine/engine.js';
import { parseIpv6 } from '../../src/wire/address.js';
import { bytesEqual } from '../../src/wire/bytes.js';

/** The simulator's seeded generator (src/sim/random.ts), with `u32` for test data. */
export function seededRandom(seed: number): SeededRandom {
  return new SeededRandom(seed);
}

export function addr(text: string): Uint8Array {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad address ${text}`);
  return a;
}

/** An HBA-only identity over the given /64 prefixes (Sec 0); the ULID is the first HBA. */
export function hbaIdentity(prefixes: readonly string[], seed: number): Promise<LocalIdentity> {
  return createHbaIdentity(prefixes.map((p) => `${p}/64`), seededRandom(seed), nodeCryptoProvider);
}

export function engine(identity: LocalIdentity, seed: number, extra: Partial<EngineOptions> = {}): ShimEngine {
  return new ShimEngine({ identities: [identity], provider: nodeCryptoProvider, random: seededRandom(seed), ...extra });
}

export interface Delivered {
  readonly from: string;
  readonly action: EngineAction & { kind: 'send' };
  readonly packet: Uint8Array;
}

/** Moves every 'send' action between the engines until quiet; returns what was delivered and the other actions by engine. */
export function pump(engines: Record<string, ShimEngine>, now: number, drop: (d: Delivered) => boolean = () => false, limit = 1000): { delivered: Delivered[]; others: Record<string, EngineAction[]> } {
  const delivered: Delivered[] = [];
  const others: Record<string, EngineAction[]> = Object.fromEntries(Object.keys(engines).map((k) => [k, []]));
  for (let round = 0; round < limit; round++) {
    let moved = false;
    for (const [name, e] of Object.entries(engines)) {
      for (const a of e.takeActions()) {
        if (a.kind !== 'send') {
          others[name]!.push(a);
          continue;
        }
        moved = true;
        const d: Delivered = { from: name, action: a, packet: encodeAction(a) };
        delivered.push(d);
        if (drop(d)) continue;
        for (const [other, oe] of Object.entries(engines)) {
          if (other !== name && oe.identities().some((id) => id.locators.some((l) => bytesEqual(l.address, a.dst)))) oe.receive(d.packet, now);
        }
      }
    }
    if (!moved) return { delivered, others };
  }
  throw new Error('pump did not settle');
}
