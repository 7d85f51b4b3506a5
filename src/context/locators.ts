/**
 * Locator sets inside a context: building the options that carry Ls(local) (RFC 5533
 * §5.15.2-5.15.5, §7.11, §7.14, §10.1) and accepting Ls(peer) from a received message
 * (§7.2, §7.13, §7.16, §7.20, §10.4), with the Error Message pointers those sections
 * require.
 *
 * The HBA/CGA checks themselves are `verifyLocatorList` and `verifyHba`/`verifyCga` in
 * `src/crypto`; this module decides which structure to use (the message's, or the one
 * recorded earlier for ULID(peer)), what the resulting Ls(peer) is, and where an Error
 * pointer lands in the invoking packet.
 */
import { verifyCga } from '../crypto/cga.js';
import { parseCgaParameters } from '../crypto/cga-params.js';
import { findMultiPrefix, verifyHba } from '../crypto/hba.js';
import { verifyLocatorList } from '../crypto/locator-verification.js';
import { signLocatorList } from '../crypto/signature.js';
import { bytesEqual } from '../wire/bytes.js';
import { ErrorCode } from '../wire/constants.js';
import { fixedLengthOf, type ControlMessage } from '../wire/control.js';
import { optionsLength, type Locator, type LocatorListOption, type LocatorPreference, type LocatorPreferencesOption, type Option } from '../wire/options/index.js';
import { verificationMethodCodes } from '../wire/verification-method.js';
import { DropReason, type ContextEnv, type LocalIdentity, type PeerLocator } from './types.js';

/** True when `a` is one of `set`'s addresses. */
export function hasAddress(set: readonly { readonly address: Uint8Array }[], a: Uint8Array): boolean {
  for (const l of set) if (bytesEqual(l.address, a)) return true;
  return false;
}

/** True when both lists hold the same addresses in the same order. */
export function sameAddresses(a: readonly { readonly address: Uint8Array }[], b: readonly { readonly address: Uint8Array }[]): boolean {
  return a.length === b.length && a.every((l, i) => bytesEqual(l.address, b[i]!.address));
}

/** True when the two peer locator sets share an address (§7.15). */
export function overlaps(a: readonly PeerLocator[], b: readonly PeerLocator[]): boolean {
  for (const l of a) if (hasAddress(b, l.address)) return true;
  return false;
}

/**
 * The options that carry Ls(local): Locator List, Locator Preferences when there are
 * preferences, the CGA Parameter Data Structure, and a CGA Signature when any locator
 * uses the CGA method (§7.11, §7.14, §10.1). A host whose only locator is its ULID and
 * that has no structure sends none.
 */
export function localLocatorOptions(identity: LocalIdentity, locators: readonly Locator[], preferences: readonly LocatorPreference[] | undefined, generation: number, env: ContextEnv): Option[] {
  if (identity.pds === undefined) return [];
  const out: Option[] = [{ kind: 'LocatorList', critical: false, generation, locators }];
  if (preferences !== undefined) out.push(preferencesOption(preferences, generation));
  out.push({ kind: 'CgaParameterDataStructure', critical: false, pds: identity.pds });
  const cga = verificationMethodCodes(env.profile).CGA;
  if (identity.privateKey !== undefined && locators.some((l) => l.verificationMethod === cga)) {
    out.push({ kind: 'CgaSignature', critical: false, signature: signLocatorList(env.provider, identity.privateKey, generation, locators, env.profile) });
  }
  return out;
}

/** A Locator Preferences option with the smallest Element Len that holds every field (§5.15.3). */
export function preferencesOption(preferences: readonly LocatorPreference[], generation: number): LocatorPreferencesOption {
  let elementLength = 1;
  for (const p of preferences) {
    if (p.weight !== undefined) elementLength = Math.max(elementLength, 3);
    else if (p.priority !== undefined) elementLength = Math.max(elementLength, 2);
  }
  const elements = preferences.map((p) => ({
    flags: p.flags,
    ...(elementLength >= 2 ? { priority: p.priority ?? 0 } : {}),
    ...(elementLength >= 3 ? { weight: p.weight ?? 0 } : {}),
  }));
  return { kind: 'LocatorPreferences', critical: false, generation, elementLength, elements };
}

/** The options of a message, by kind (each at most once is what we use; later duplicates are ignored). */
export interface MessageOptions {
  readonly locatorList?: LocatorListOption;
  readonly locatorListIndex: number;
  readonly preferences?: LocatorPreferencesOption;
  readonly preferencesIndex: number;
  readonly pds?: Uint8Array;
  readonly signature?: Uint8Array;
  readonly validator?: Uint8Array;
  readonly ulidPair?: { readonly sender: Uint8Array; readonly receiver: Uint8Array };
  readonly fii: number;
}

export function readOptions(options: readonly Option[]): MessageOptions {
  const out: { -readonly [K in keyof MessageOptions]: MessageOptions[K] } = { locatorListIndex: -1, preferencesIndex: -1, fii: 0 };
  let fiiSeen = false;
  for (let i = 0; i < options.length; i++) {
    const o = options[i]!;
    switch (o.kind) {
      case 'LocatorList': if (out.locatorList === undefined) { out.locatorList = o; out.locatorListIndex = i; } break;
      case 'LocatorPreferences': if (out.preferences === undefined) { out.preferences = o; out.preferencesIndex = i; } break;
      case 'CgaParameterDataStructure': out.pds ??= o.pds; break;
      case 'CgaSignature': out.signature ??= o.signature; break;
      case 'ResponderValidator': out.validator ??= o.validator; break;
      case 'UlidPair': out.ulidPair ??= { sender: o.senderUlid, receiver: o.receiverUlid }; break;
      case 'ForkedInstanceIdentifier': if (!fiiSeen) { out.fii = o.forkedInstanceId; fiiSeen = true; } break;
      default: break;
    }
  }
  return out;
}

/** Offset from the packet's first octet of option `index` of a message whose Shim6 header is at `shimOffset`. */
export function optionOffset(message: ControlMessage, shimOffset: number, index: number): number {
  if (message.kind === 'Error') return shimOffset;
  return shimOffset + fixedLengthOf(message.kind) + optionsLength(message.options.slice(0, index));
}

/** Does the structure belong to ULID(peer)? HBA when it has a Multi-Prefix extension, CGA otherwise (§7.2). */
export function pdsMatchesUlid(pds: Uint8Array, ulidPeer: Uint8Array, env: ContextEnv): boolean {
  const parsed = parseCgaParameters(pds);
  if (!parsed.ok) return false;
  const mp = findMultiPrefix(parsed.value.extensions);
  if (mp !== undefined && !mp.ok) return false;
  return mp !== undefined ? verifyHba(env.provider, ulidPeer, pds).valid : verifyCga(env.provider, ulidPeer, pds).valid;
}

export type PeerLocatorsResult =
  | {
      readonly ok: true;
      /** The new Ls(peer), or undefined when the message carried no Locator List. */
      readonly lsPeer: readonly PeerLocator[] | undefined;
      readonly generation: number | undefined;
      /** The structure to record for ULID(peer). */
      readonly pds: Uint8Array | undefined;
    }
  | {
      readonly ok: false;
      readonly drop: DropReason;
      /** Error Message to send (§7.2: Error Code 2), with its pointer into the invoking packet. */
      readonly error?: { readonly code: number; readonly pointer: number };
    };

/**
 * Accepts the peer's locator options of an I2, R2, I2bis or Update Request: checks the
 * structure against ULID(peer) (silent discard on failure) and verifies every locator of
 * the list (Error Code 2 on failure), giving the new Ls(peer). Never throws.
 */
export function acceptPeerLocators(message: ControlMessage, opts: MessageOptions, shimOffset: number, ulidPeer: Uint8Array, recordedPds: Uint8Array | undefined, env: ContextEnv): PeerLocatorsResult {
  const list = opts.locatorList;
  if (list === undefined) {
    // A structure without a list must still belong to ULID(peer) (§7.13, §7.16, §10.4).
    if (opts.pds !== undefined && !pdsMatchesUlid(opts.pds, ulidPeer, env)) return { ok: false, drop: DropReason.BadPds };
    return { ok: true, lsPeer: undefined, generation: undefined, pds: opts.pds ?? recordedPds };
  }
  // With a list, verifyLocatorList checks the structure against ULID(peer) first.
  const pds = opts.pds ?? recordedPds;
  if (pds === undefined) return { ok: false, drop: DropReason.MissingPds };
  const v = verifyLocatorList({
    provider: env.provider,
    ulidPeer,
    locatorList: list,
    pds,
    ...(opts.signature === undefined ? {} : { cgaSignature: opts.signature }),
    profile: env.profile,
    verifySignature: env.verifySignature,
  });
  if (v.outcome === 'discard') return { ok: false, drop: DropReason.BadPds };
  if (v.outcome === 'rejected') {
    const pointer = optionOffset(message, shimOffset, opts.locatorListIndex) + 4 + 4 + 1 + v.error.verificationMethodIndex;
    return { ok: false, drop: DropReason.LocatorsRejected, error: { code: ErrorCode.LocatorVerificationMethodFailed, pointer } };
  }
  const lsPeer: PeerLocator[] = list.locators.map((l) => ({ address: l.address, verificationMethod: l.verificationMethod, verified: true, flags: 0 }));
  let result: readonly PeerLocator[] = lsPeer;
  if (opts.preferences !== undefined && opts.preferences.generation === list.generation && opts.preferences.elements.length === lsPeer.length) {
    result = applyPreferences(lsPeer, opts.preferences.elements);
  }
  return { ok: true, lsPeer: result, generation: list.generation, pds };
}

/** Ls(peer) with preferences applied element by element (§5.15.3: same order as the list). */
export function applyPreferences(ls: readonly PeerLocator[], elements: readonly LocatorPreference[]): PeerLocator[] {
  return ls.map((l, i) => {
    const p = elements[i]!;
    return {
      address: l.address,
      verificationMethod: l.verificationMethod,
      verified: l.verified,
      flags: p.flags,
      ...(p.priority === undefined ? {} : { priority: p.priority }),
      ...(p.weight === undefined ? {} : { weight: p.weight }),
    };
  });
}

/** Ls(peer) before any list is received: just ULID(peer), which needs no verification (§7.2). */
export function ulidOnly(ulidPeer: Uint8Array): readonly PeerLocator[] {
  return [{ address: ulidPeer, verificationMethod: 0, verified: true, flags: 0 }];
}

/** Is `src` an acceptable source for an I2/I2bis on an existing context: in Ls(peer), or verified in the message's list (§7.13, §7.20)? */
export function sourceAccepted(src: Uint8Array, ulidPeer: Uint8Array, lsPeer: readonly PeerLocator[], fromMessage: readonly PeerLocator[] | undefined): boolean {
  if (bytesEqual(src, ulidPeer) || hasAddress(lsPeer, src)) return true;
  return fromMessage !== undefined && fromMessage.some((l) => l.verified && bytesEqual(l.address, src));
}
