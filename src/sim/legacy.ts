/**
 * A host without Shim6 (RFC 5533 §7.8 from the other side): its IPv6 stack answers a
 * packet with the unknown Next Header 140 with ICMPv6 Parameter Problem code 1
 * (RFC 4443 §3.4), or a firewall drops it silently. It exchanges plain application data.
 */
import type { Delivery, SimEnvironment } from './host.js';
import type { SimPacket } from './network.js';
import { classify, parameterProblem, plainPacket } from './packets.js';

/** What a host without Shim6 does with a Shim6 packet. */
export type LegacyBehaviour = 'icmp' | 'silent';

/** A host without Shim6. */
export class LegacyHost {
  readonly name: string;
  readonly behaviour: LegacyBehaviour;
  readonly inbox: Delivery[] = [];
  readonly #env: SimEnvironment;
  #shim6Seen = 0;

  constructor(name: string, env: SimEnvironment, addresses: readonly Uint8Array[], behaviour: LegacyBehaviour) {
    this.name = name;
    this.behaviour = behaviour;
    this.#env = env;
    env.network.attach(name, addresses, (bytes, packet) => this.#receive(bytes, packet));
  }

  get addresses(): readonly Uint8Array[] {
    return this.#env.network.addresses(this.name);
  }

  /** Shim6 packets received (and refused). */
  get shim6Received(): number {
    return this.#shim6Seen;
  }

  /** Sends application data from one of its addresses (the first by default). */
  send(dst: Uint8Array, data: Uint8Array, src: Uint8Array = this.addresses[0]!): void {
    this.#env.network.send(plainPacket(src, dst, data));
  }

  #receive(bytes: Uint8Array, packet: SimPacket): void {
    const now = this.#env.clock.now;
    const c = classify(bytes);
    if (c.kind === 'data') {
      const d: Delivery = { at: now, ulidLocal: packet.dst, ulidPeer: packet.src, data: c.data.slice(), contextTag: undefined };
      this.inbox.push(d);
      this.#env.transcript.add(now, `${this.name} deliver ${this.#env.label(d.ulidPeer)}→${this.#env.label(d.ulidLocal)} len=${d.data.length}`);
      return;
    }
    if (c.kind === 'payload' || c.kind === 'control') {
      this.#shim6Seen++;
      // RFC 4443 §2.4 (e): never an ICMPv6 error about a multicast destination; the simulator has none.
      if (this.behaviour === 'icmp') this.#env.network.send(parameterProblem(packet.dst, bytes));
    }
  }
}
