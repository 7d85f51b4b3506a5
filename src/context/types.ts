/**
 * The ULID-pair context of RFC 5533 §6.1 and its STATES (§6.2), the inputs a context
 * reacts to, the actions it asks for, and the environment that injects time-free
 * services (randomness, crypto, tag allocation, responder validators, identities).
 *
 * A context is an immutable record: `step` (machine.ts) returns a new one. Addresses are
 * 16-octet `Uint8Array`s that are never mutated after construction; context tags are
 * plain numbers (47 bits fit a double exactly).
 */
import type { SignatureVerifier } from '../crypto/locator-verification.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { ControlMessage, ErrorMessage } from '../wire/control.js';
import type { Locator, LocatorPreference, Option } from '../wire/options/index.js';
import type { VerificationMethodProfile } from '../wire/verification-method.js';
import type { ReapConfig } from '../reap/constants.js';
import type { ReapContext, ReapNotify } from '../reap/types.js';
import type { ContextConfig } from './constants.js';
import type { ResponderValidators } from './validator.js';

/** RFC 5533 §6.2 STATES, spelled as the RFC spells them. */
export const ContextState = {
  IDLE: 'IDLE',
  I1_SENT: 'I1-SENT',
  I2_SENT: 'I2-SENT',
  I2BIS_SENT: 'I2BIS-SENT',
  ESTABLISHED: 'ESTABLISHED',
  E_FAILED: 'E-FAILED',
  NO_SUPPORT: 'NO-SUPPORT',
} as const;
export type ContextState = (typeof ContextState)[keyof typeof ContextState];

/** One entry of Ls(peer) (§6.1). */
export interface PeerLocator {
  readonly address: Uint8Array;
  /** Verification method octet from the Locator List option. */
  readonly verificationMethod: number;
  /** HBA/CGA verification succeeded (§7.2). The ULID itself needs none. */
  readonly verified: boolean;
  /** Locator Preferences (§5.15.3): BROKEN 0x01, TRANSIENT 0x02. */
  readonly flags: number;
  readonly priority?: number;
  readonly weight?: number;
}

/**
 * What the host proves about one of its ULIDs: the CGA Parameter Data Structure that
 * binds its locators to it (an HBA set, RFC 5535, or a CGA, RFC 3972), the key that signs
 * CGA-verified locator lists, and Ls(local) itself.
 */
export interface LocalIdentity {
  readonly ulid: Uint8Array;
  /** The CGA Parameter Data Structure for `ulid`; absent for a host whose only locator is the ULID. */
  readonly pds?: Uint8Array;
  /** PKCS#8 private key, needed when any locator uses the CGA method (§5.15.5). */
  readonly privateKey?: Uint8Array;
  /** Ls(local): every locator with its verification method octet; must include `ulid`. */
  readonly locators: readonly Locator[];
  /** Preferences for `locators`, same order (§5.15.3); absent means "no preferences sent". */
  readonly preferences?: readonly LocatorPreference[];
}

/** A retransmission timer (§7.8, §7.12, §7.19, §10.2): timers are data, as in smoltcp. */
export interface Retransmit {
  /** Retransmissions done so far. */
  readonly count: number;
  /** Nominal (backed-off, not randomised) timeout of the current wait. */
  readonly timeoutMs: number;
  /** When the message was last sent. */
  readonly sentAt: number;
  readonly deadline: number;
}

/** The one outstanding Update Request (§10.3). */
export interface PendingUpdate {
  readonly requestNonce: number;
  /** Options of the request, kept so retransmissions are identical (§10.1: same nonce). */
  readonly options: readonly Option[];
  readonly timer: Retransmit;
}

/** The ULID-pair context (§6.1). Fields absent in a STATE are `undefined` (§6.2 second table). */
export interface ShimContext {
  /** Engine-local handle; never on the wire. */
  readonly id: number;
  readonly state: ContextState;
  readonly ulidLocal: Uint8Array;
  readonly ulidPeer: Uint8Array;
  /** Forked Instance Identifier (§4.2); 0 for the default context. */
  readonly fii: number;
  /** CT(local): allocated by this host, unique among its contexts (§7.1). */
  readonly ctLocal: number;
  /** CT(peer): allocated by the peer; known from R2/I2/I2bis on. */
  readonly ctPeer: number | undefined;
  /** Ls(local) as last sent to the peer, and its generation (§6.1). */
  readonly lsLocal: readonly Locator[];
  readonly genLocal: number;
  readonly prefsLocal: readonly LocatorPreference[] | undefined;
  /** Ls(peer) and the generation of the most recent verified list (§6.1). */
  readonly lsPeer: readonly PeerLocator[];
  readonly genPeer: number | undefined;
  /** The peer's CGA Parameter Data Structure once received and checked against ULID(peer). */
  readonly pdsPeer: Uint8Array | undefined;
  /** Lp(local), Lp(peer): the current locator pair. */
  readonly lpLocal: Uint8Array;
  readonly lpPeer: Uint8Array;
  /** INIT Nonce of the last I1/I2/I2bis sent. */
  readonly initNonce: number;
  /** RESP Nonce and Responder Validator from the R1 or R1bis being answered. */
  readonly respNonce: number | undefined;
  readonly validator: Uint8Array | undefined;
  /** CT(R1bis): the Packet Context Tag of the R1bis being answered (§6.2). */
  readonly ctR1bis: number | undefined;
  /** The I1 carried a ULID Pair option, so I2 must carry it too (§7.11). */
  readonly ulidOption: boolean;
  /** Timer of the establishment message in flight (I1, I2 or I2bis). */
  readonly retransmit: Retransmit | undefined;
  readonly update: PendingUpdate | undefined;
  /** E-FAILED / NO-SUPPORT: when the negative cache entry expires (§7.8). */
  readonly holdUntil: number | undefined;
  /** Last packet or message sent or received with the context (§9). */
  readonly lastActivity: number;
  readonly createdAt: number;
  readonly establishedAt: number | undefined;
  /** This host sent the I1 (or I2bis) that created the context. */
  readonly initiator: boolean;
  /** Signed locator options for `genLocal`, so retransmissions do not sign again. */
  readonly localOptions: readonly Option[] | undefined;
  /** REAP (RFC 5534) failure detection and exploration: set in ESTABLISHED (kept, paused, in I2BIS-SENT). */
  readonly reap: ReapContext | undefined;
  /**
   * Experimental flow-label demultiplexing (issue #8, src/context/flow-label.ts): the
   * label this host allocated for receiving the context's packets on non-ULID pairs, as
   * advertised in its I2/I2bis/R2/Update Request (0: none free; absent: not advertised yet
   * or the mode is off).
   */
  readonly flowLabelLocal?: number;
  /** The label the peer advertised last: written instead of the Payload Extension header (0 or absent: use the header). */
  readonly flowLabelPeer?: number;
}

/** A received control message with what is needed to answer it (Error pointers count from the packet's first octet). */
export interface ReceivedControl {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly message: ControlMessage;
  /** The whole invoking packet (IPv6 header first), for Error messages (§5.14). */
  readonly packet: Uint8Array;
  /** Offset of the Shim6 header in `packet`. */
  readonly shimOffset: number;
}

/** What a context reacts to (Appendix B "Trigger" column). */
export type ContextInput =
  /** The heuristic or the API asks for a context (IDLE → I1-SENT). */
  | { readonly kind: 'establish' }
  | { readonly kind: 'control'; readonly rx: ReceivedControl }
  /** A payload packet carrying CT(local) that the fast path did not take (§12.2). */
  | { readonly kind: 'payload'; readonly src: Uint8Array; readonly dst: Uint8Array }
  /** The deadline from `nextDeadline` has passed. */
  | { readonly kind: 'timeout' }
  /** ICMPv6 Parameter Problem code 1 (Unrecognized Next Header) about our I1 (§7.8). */
  | { readonly kind: 'icmp-no-support' }
  /** A Shim6 Error message about a packet this context sent (§5.14). */
  | { readonly kind: 'error'; readonly error: ErrorMessage; readonly inError: ControlMessage | undefined }
  /** Ls(local) or its preferences changed (§10.1). */
  | { readonly kind: 'local-locators'; readonly locators: readonly Locator[]; readonly preferences: readonly LocatorPreference[] | undefined }
  /** Use another locator pair (REAP's decision, RFC 5534; or an operator's): Lp(local) ∈ Ls(local), Lp(peer) a verified member of Ls(peer). */
  | { readonly kind: 'switch-pair'; readonly lpLocal: Uint8Array; readonly lpPeer: Uint8Array }
  /** Another context now owns CT(peer) with overlapping Ls(peer) (§7.15). */
  | { readonly kind: 'confused' }
  | { readonly kind: 'teardown'; readonly reason: string }
  /** ULP packets of the context went out / came in through the fast path (RFC 5534 §6.1-6.2). */
  | { readonly kind: 'payload-sent' }
  | { readonly kind: 'payload-received' }
  /** The locally operational addresses changed (RFC 5534 §3.2; `env.localOperational`). */
  | { readonly kind: 'local-change' }
  /** The upper layer retransmitted with nothing received (a REAP hint). */
  | { readonly kind: 'ulp-retransmit' }
  /** Explore now (operator). */
  | { readonly kind: 'explore' };

export type NotifyEvent =
  | 'established'
  | 'recovered'
  | 'peer-locators-changed'
  | 'update-acknowledged'
  | 'e-failed'
  | 'no-support'
  | 'confusion'
  | 'removed'
  | 'error-received'
  | ReapNotify;

export type FastPathOp = 'install' | 'update' | 'remove';

/** What a step asks the outside world to do. */
export type ContextAction =
  | { readonly kind: 'send'; readonly src: Uint8Array; readonly dst: Uint8Array; readonly message: ControlMessage }
  | { readonly kind: 'fast-path'; readonly op: FastPathOp; readonly ctx: ShimContext }
  | { readonly kind: 'notify'; readonly event: NotifyEvent; readonly ctx: ShimContext; readonly detail?: string };

/** Why an input changed nothing; counted by the engine. */
export const DropReason = {
  NotForState: 'not-for-state',
  NonceMismatch: 'nonce-mismatch',
  LocatorMismatch: 'locator-mismatch',
  StaleValidator: 'stale-validator',
  BadValidator: 'bad-validator',
  BadPds: 'bad-pds',
  LocatorsRejected: 'locators-rejected',
  SourceNotVerified: 'source-not-verified',
  MissingPds: 'missing-pds',
  NoIdentity: 'no-identity',
  UpdateGeneration: 'update-generation',
  UpdateCount: 'update-count',
  StaleUpdateAck: 'stale-update-ack',
  BadLocatorSet: 'bad-locator-set',
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

export interface StepResult {
  readonly ctx: ShimContext;
  readonly actions: readonly ContextAction[];
  /** Set when the input was ignored; the engine counts it. */
  readonly drop?: DropReason;
}

/** Choices the RFC leaves to the implementation, as hooks for experiments. */
export interface ContextPolicy {
  /** §7.15: discard the confused old context, or re-establish it with a new I1. */
  readonly onConfusion: 'discard' | 'reestablish';
  /** Send Error messages the RFC marks SHOULD (codes 2-4). */
  readonly sendErrors: boolean;
}

export const DEFAULT_POLICY: ContextPolicy = { onConfusion: 'reestablish', sendErrors: true };

/** Everything a step needs besides the context, the input and `now` (STYLE.md: injected). */
export interface ContextEnv {
  readonly config: ContextConfig;
  readonly policy: ContextPolicy;
  readonly provider: CryptoProvider;
  readonly profile: VerificationMethodProfile;
  readonly verifySignature: SignatureVerifier;
  readonly validators: ResponderValidators;
  /** A uniformly random 32-bit unsigned integer. */
  randomU32(): number;
  /** Uniform in [0, 1). */
  randomUnit(): number;
  /**
   * A random INIT Nonce no other context of this host is waiting on. R1 and R2 are
   * matched by nonce and locators (§12.4); forked contexts share their locators, so two
   * of them with one nonce could take each other's R2. Optional: without it the nonce is
   * `randomU32()`.
   */
  allocateInitNonce?(): number;
  /** A fresh CT(local), unique among this host's contexts (§7.1). */
  allocateTag(): number;
  identity(ulidLocal: Uint8Array): LocalIdentity | undefined;
  /** REAP settings (RFC 5534); absent: no REAP, as in mode `off`, and no Keepalive Timeout option. */
  readonly reap?: ReapConfig;
  /** RFC 5534 §3.2: whether a local address is locally operational. Absent: all are. */
  localOperational?(address: Uint8Array): boolean;
  /**
   * Experimental flow-label demultiplexing (issue #8). Absent: the mode is off, no Flow
   * Label Demux option is sent and the peer's is ignored.
   */
  readonly flowLabel?: {
    /** A label for receiving `ctx`'s packets on non-ULID pairs, unique for its local locator set; 0 when none is free. */
    allocate(ctx: ShimContext, now: number): number;
  };
}
