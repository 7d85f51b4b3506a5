/**
 * The data plane as its controllers see it (the daemon now, the context engine and REAP
 * later): fast-path entries keyed by ULID pair, by context tag and (experimental, issue
 * #8) by flow label, the current locator pair of each, and counters. The packet work
 * behind it is in egress.ts, ingress.ts, flow-label.ts and icmp.ts; dataplane.ts ties
 * them to devices.
 */

/** A context as the fast path needs it (RFC 5533 §6.2's state, minus the control parts). */
export interface FastPathContext {
  /** The controller's name for it (config name or context id); unique. */
  readonly name: string;
  readonly localUlid: Uint8Array;
  readonly peerUlid: Uint8Array;
  /** Locators we accept as destinations of this context's packets (includes the ULID). */
  readonly localLocators: readonly Uint8Array[];
  /** Locators we accept as sources of this context's packets (includes the ULID). */
  readonly peerLocators: readonly Uint8Array[];
  /** Our Receiver Context Tag: what the peer puts in the payload header it sends us. */
  readonly localContextTag: number;
  /** The peer's Receiver Context Tag: what we put in the payload header we send. */
  readonly peerContextTag: number;
  /** The current locator pair; equal to the ULIDs means "no rewriting" (§5.2). */
  readonly currentLocal: Uint8Array;
  readonly currentPeer: Uint8Array;
  /**
   * Experimental (issue #8): the flow label this host allocated for receiving the
   * context's packets on non-ULID pairs, 1..0xFFFFF; 0 or absent = none (the peer uses
   * the Payload Extension header). Unique per local locator (src/dataplane/flow-label.ts).
   */
  readonly localFlowLabel?: number;
  /**
   * The flow label the peer allocated: egress writes it instead of inserting the Payload
   * Extension header (src/dataplane/egress.ts); 0 or absent = the explicit tag.
   */
  readonly peerFlowLabel?: number;
}

/** Counter names, global and per context. Values only ever increase. */
export const COUNTERS = [
  'egressPackets', 'egressBytes', 'egressRewritten', 'egressPassthrough',
  'ingressPackets', 'ingressBytes',
  'icmpTranslated',
  'controlReceived',
  'dropMalformed', 'dropNoContext', 'dropUnknownTag', 'dropLocatorMismatch',
  'dropTooBig', 'dropSendFailed', 'dropTunWriteFailed', 'dropIcmpUnmatched',
  /** TCP segments re-sent with an old sequence number (a REAP hint, RFC 5534 §3.3; src/dataplane/retransmit.ts). */
  'egressRetransmits',
  /** Rewritten packets sent with the peer's flow label instead of the Payload Extension header (issue #8; also counted in egressRewritten). */
  'egressFlowLabel',
  /** Packets from the intercept TUN restored to the ULIDs (issue #8; also counted in ingressPackets and ingressBytes). */
  'ingressFlowLabel',
  /** Packets from the intercept TUN that belong to no context: handed to the local stack unchanged. */
  'interceptPassthrough',
] as const;
export type CounterName = (typeof COUNTERS)[number];
export type Counters = Record<CounterName, number>;

export interface ContextSnapshot extends FastPathContext {
  /** 0 when none. */
  readonly localFlowLabel: number;
  /** 0 when none. */
  readonly peerFlowLabel: number;
  readonly counters: Counters;
}

/** Raised for a bad controller request (unknown context, locator not in the set, ...). */
export class DataPlaneError extends Error {
  readonly code: 'unknown-context' | 'duplicate-context' | 'duplicate-tag' | 'duplicate-ulid-pair' | 'bad-locator' | 'bad-context' | 'table-full' | 'duplicate-label';
  constructor(code: DataPlaneError['code'], message: string) {
    super(message);
    this.name = 'DataPlaneError';
    this.code = code;
  }
}

/** What a controller can do to the data plane. */
export interface DataPlaneControl {
  /** Installs a context; throws DataPlaneError on a duplicate name, tag, ULID pair or (local locator, flow label). */
  addContext(ctx: FastPathContext): void;
  removeContext(name: string): void;
  /**
   * Switches the current locator pair at once (the next packet uses it). `local` must be
   * one of the context's local locators and `peer` one of its peer locators.
   */
  setCurrentPair(name: string, local: Uint8Array, peer: Uint8Array): void;
  context(name: string): ContextSnapshot | undefined;
  contexts(): ContextSnapshot[];
  counters(): Counters;
}

/** Reported to the controller (rate-limited by the data plane), never per packet in bulk. */
export interface DataPlaneEvents {
  /** A payload packet with a tag no context has (the context engine answers with R1bis, §7.17). */
  unknownTag?(tag: number, src: Uint8Array, dst: Uint8Array): void;
  /** A Shim6 control message (P = 0), copied out: src, dst and the Shim6 header onward. */
  control?(src: Uint8Array, dst: Uint8Array, message: Uint8Array): void;
  /** An ICMPv6 error about one of our Shim6 control messages, copied out as a whole IPv6 packet (RFC 5533 §7.8: Parameter Problem about an I1). */
  icmpError?(packet: Uint8Array): void;
}
