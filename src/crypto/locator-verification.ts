/**
 * Locator verification (RFC 5533 §7.2): is each locator of a peer's Locator List option
 * tied to the peer's ULID, through HBA (RFC 5535 §7.2) or CGA (RFC 3972 §5 plus the CGA
 * Signature of RFC 5533 §5.15.5), and which locators still need a reachability check?
 *
 * How we read §7.2 and the sections that invoke it (§7.15, §10.4, §4 "Protocol
 * Overview"):
 * - The CGA Parameter Data Structure must first correspond to ULID(peer): when it carries
 *   a Multi-Prefix extension the ULID must belong to its HBA set (RFC 5535 §7.2, which
 *   also covers the structure of another member of the set), otherwise the ULID must be
 *   its CGA (RFC 3972 §5). If not, or if the structure does not parse, the message is
 *   silently discarded (§7.15 for R2, §10.4 for Update Request): no Error message.
 * - HBA locator: verified when it belongs to the HBA set of the structure (RFC 5535 §7.2).
 * - CGA locator: the locator itself need not be a CGA (§4: "the other addresses that are
 *   used as locators do not need to be either CGAs or HBAs"). It is verified when the
 *   ULID is a CGA of the structure (checked above) and the CGA Signature, made with the
 *   structure's public key over the tag, the generation and every CGA-marked locator
 *   (`cgaSignedData`), verifies.
 * - A method the host does not support, or one inconsistent with the structure (HBA
 *   without a Multi-Prefix extension; CGA with an HBA-only structure, whose P flag says
 *   the Public Key field is a nonce), or a locator that fails its verification: the host
 *   MUST ignore the Locator List and the whole message, and SHOULD send an Error message
 *   with Error Code 2 whose Pointer is the octet of that locator's verification method
 *   (§7.2, §10.4 "If the locator list cannot be verified ... Error Code=2"). We report
 *   every locator's verdict and name the first invalid one for the Error message; the
 *   engine turns its index into a Pointer: offset of the option + 9 + index (4-octet
 *   option header, 32-bit generation, 8-bit Num Locators, §5.15.2).
 * - Reachability: verification makes a locator usable as a source at once; before a
 *   locator other than the ULID is used as a destination, the host MUST also check that
 *   the ULID is present there with the REAP return-routability test (RFC 5534). So every
 *   verified locator other than ULID(peer) is marked `reachabilityCheckRequired`.
 *
 * Leaves out: the reachability test itself (REAP), locator preferences and generation
 * number ordering (§10.4, Error Codes 3 and 4), and which messages must carry a structure
 * or signature (the engine's job). The signature check is injected as a function, so the
 * key algorithm policy stays in `signature.ts`.
 */
import { bytesEqual } from '../wire/bytes.js';
import { ErrorCode } from '../wire/constants.js';
import { cgaSignedData } from '../wire/options/cga-signature.js';
import type { LocatorListOption } from '../wire/options/locator-list.js';
import { verificationMethodCodes, verificationMethodName, type VerificationMethodName, type VerificationMethodProfile } from '../wire/verification-method.js';
import { verifyCga, type CgaVerifyFailureReason } from './cga.js';
import { parseCgaParameters } from './cga-params.js';
import { findMultiPrefix, verifyHba, type HbaVerifyFailureReason } from './hba.js';
import type { CryptoProvider } from './provider.js';

/** Verifies `signature` over `message` with the SubjectPublicKeyInfo `spki`; never throws. */
export type SignatureVerifier = (spki: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

export interface LocatorVerificationInput {
  readonly provider: CryptoProvider;
  /** ULID(peer). */
  readonly ulidPeer: Uint8Array;
  /** The peer's Locator List option. */
  readonly locatorList: LocatorListOption;
  /** The peer's CGA Parameter Data Structure (from this message or recorded earlier). */
  readonly pds: Uint8Array;
  /** The CGA Signature option's signature, when the message carries one. */
  readonly cgaSignature?: Uint8Array;
  /** Which octet means HBA and which CGA (RFC 5533 §5.15.2 Table 4 or §17). */
  readonly profile: VerificationMethodProfile;
  readonly verifySignature: SignatureVerifier;
  /** Accept CGAs with Sec 3-7 (see `verifyCga`). */
  readonly allowUnregisteredSec?: boolean;
}

export const LocatorInvalidReason = {
  /** The method octet is neither HBA nor CGA under the profile. */
  UnsupportedMethod: 'unsupported-method',
  /** HBA, but the structure has no Multi-Prefix extension. */
  HbaWithoutMultiPrefix: 'hba-without-multi-prefix',
  /** CGA, but the structure is HBA-only (P flag clear): no public key to sign with. */
  CgaWithoutPublicKey: 'cga-without-public-key',
  /** HBA verification of the locator failed (`detail` names the step's reason). */
  NotInHbaSet: 'not-in-hba-set',
  /** CGA locators but no CGA Signature. */
  MissingSignature: 'missing-signature',
  /** The CGA Signature does not verify with the structure's public key. */
  BadSignature: 'bad-signature',
} as const;
export type LocatorInvalidReason = (typeof LocatorInvalidReason)[keyof typeof LocatorInvalidReason];

export type LocatorVerdict =
  | {
      readonly index: number;
      readonly address: Uint8Array;
      readonly method: 'HBA' | 'CGA';
      readonly status: 'verified';
      /** True for every locator but ULID(peer): REAP must confirm the ULID there before it is a destination. */
      readonly reachabilityCheckRequired: boolean;
    }
  | {
      readonly index: number;
      readonly address: Uint8Array;
      readonly method: VerificationMethodName;
      readonly status: 'invalid';
      readonly reason: LocatorInvalidReason;
      readonly detail?: HbaVerifyFailureReason;
      /** Error Code 2, Pointer at this locator's verification method octet. */
      readonly errorCode: typeof ErrorCode.LocatorVerificationMethodFailed;
      /** Index of the octet in the Verification Method field (equals `index`). */
      readonly verificationMethodIndex: number;
    };

export type LocatorListVerification =
  | { readonly outcome: 'verified'; readonly verdicts: readonly LocatorVerdict[] }
  | {
      /** Ignore the Locator List and the message, silently (no Error message). */
      readonly outcome: 'discard';
      readonly reason: 'bad-pds' | 'pds-not-for-ulid';
      readonly detail?: HbaVerifyFailureReason | CgaVerifyFailureReason | string;
    }
  | {
      /** Ignore the Locator List and the message; SHOULD send `error`. */
      readonly outcome: 'rejected';
      readonly verdicts: readonly LocatorVerdict[];
      readonly error: { readonly code: typeof ErrorCode.LocatorVerificationMethodFailed; readonly verificationMethodIndex: number };
    };

/** Applies RFC 5533 §7.2 to a peer's Locator List (see the module comment). Never throws for malformed input. */
export function verifyLocatorList(input: LocatorVerificationInput): LocatorListVerification {
  const { provider, ulidPeer, locatorList, pds, profile } = input;
  const parsed = parseCgaParameters(pds);
  if (!parsed.ok) return { outcome: 'discard', reason: 'bad-pds', detail: parsed.error.reason };
  const mp = findMultiPrefix(parsed.value.extensions);
  if (mp !== undefined && !mp.ok) return { outcome: 'discard', reason: 'bad-pds', detail: mp.message };
  const multiPrefix = mp?.value;

  // The structure must belong to ULID(peer).
  if (multiPrefix !== undefined) {
    const r = verifyHba(provider, ulidPeer, pds);
    if (!r.valid) return { outcome: 'discard', reason: 'pds-not-for-ulid', detail: r.reason };
  } else {
    const opts = input.allowUnregisteredSec === true ? { allowUnregisteredSec: true } : {};
    const r = verifyCga(provider, ulidPeer, pds, opts);
    if (!r.valid) return { outcome: 'discard', reason: 'pds-not-for-ulid', detail: r.reason };
  }

  const codes = verificationMethodCodes(profile);
  const locators = locatorList.locators;
  let signatureOk: boolean | undefined;
  const cgaSignatureVerifies = (): boolean => {
    if (signatureOk === undefined) {
      let message: Uint8Array;
      try {
        message = cgaSignedData(locatorList.generation, locators, (m) => m === codes.CGA);
      } catch {
        return (signatureOk = false);
      }
      signatureOk = input.verifySignature(parsed.value.publicKey, message, input.cgaSignature!);
    }
    return signatureOk;
  };

  const verdicts: LocatorVerdict[] = locators.map((l, index): LocatorVerdict => {
    const method = verificationMethodName(l.verificationMethod, profile);
    const invalid = (reason: LocatorInvalidReason, detail?: HbaVerifyFailureReason): LocatorVerdict => ({
      index,
      address: l.address,
      method,
      status: 'invalid',
      reason,
      ...(detail === undefined ? {} : { detail }),
      errorCode: ErrorCode.LocatorVerificationMethodFailed,
      verificationMethodIndex: index,
    });
    if (method === 'HBA') {
      if (multiPrefix === undefined) return invalid('hba-without-multi-prefix');
      const r = verifyHba(provider, l.address, pds);
      if (!r.valid) return invalid('not-in-hba-set', r.reason);
    } else if (method === 'CGA') {
      if (multiPrefix !== undefined && !multiPrefix.publicKeyIncluded) return invalid('cga-without-public-key');
      if (input.cgaSignature === undefined) return invalid('missing-signature');
      if (!cgaSignatureVerifies()) return invalid('bad-signature');
    } else {
      return invalid('unsupported-method');
    }
    return { index, address: l.address, method, status: 'verified', reachabilityCheckRequired: !bytesEqual(l.address, ulidPeer) };
  });

  const firstInvalid = verdicts.find((v) => v.status === 'invalid');
  if (firstInvalid === undefined) return { outcome: 'verified', verdicts };
  return { outcome: 'rejected', verdicts, error: { code: ErrorCode.LocatorVerificationMethodFailed, verificationMethodIndex: firstInvalid.index } };
}
