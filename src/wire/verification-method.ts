/**
 * Locator verification method values (RFC 5533 §5.15.2). The RFC contradicts itself:
 * Table 4 in §5.15.2 says 1 = HBA, 2 = CGA; the IANA registry of §17 says 1 = CGA,
 * 2 = HBA. The deployed implementation (LinShim6) and Wireshark follow Table 4, so that is
 * our default profile, `table4`; `iana` selects the §17 values (README, "Conformance
 * notes"). Both sides of a context must use the same profile.
 */

export const VerificationMethodProfile = { Table4: 'table4', Iana: 'iana' } as const;
export type VerificationMethodProfile = (typeof VerificationMethodProfile)[keyof typeof VerificationMethodProfile];

export type VerificationMethodName = 'HBA' | 'CGA' | 'Reserved' | 'Unassigned' | 'Experimental';

export interface VerificationMethodCodes {
  readonly HBA: number;
  readonly CGA: number;
}

export function verificationMethodCodes(profile: VerificationMethodProfile): VerificationMethodCodes {
  return profile === 'iana' ? { CGA: 1, HBA: 2 } : { HBA: 1, CGA: 2 };
}

/** The meaning of a verification method octet under a profile (ranges from RFC 5533 §17). */
export function verificationMethodName(value: number, profile: VerificationMethodProfile): VerificationMethodName {
  const codes = verificationMethodCodes(profile);
  if (value === codes.HBA) return 'HBA';
  if (value === codes.CGA) return 'CGA';
  if (value === 0 || value === 255) return 'Reserved';
  if (value >= 201 && value <= 254) return 'Experimental';
  return 'Unassigned';
}

export function isVerificationMethodProfile(s: string): s is VerificationMethodProfile {
  return s === 'table4' || s === 'iana';
}
