/**
 * Protocol numbers and registries of Shim6 (RFC 5533 §5, §17) and REAP (RFC 5534 §5).
 *
 * Specification constants only; implementation limits live next to the code that
 * enforces them. `as const` objects instead of `enum` (STYLE.md).
 */

/** IP protocol number of the Shim6 header (RFC 5533 §17). */
export const IPPROTO_SHIM6 = 140;
/** "No Next Header" (RFC 8200 §4.7); the Next Header of every control message (RFC 5533 §5.3). */
export const NO_NXT_HDR = 59;
/** Fixed IPv6 header length (RFC 8200 §3). */
export const IPV6_HEADER_LEN = 40;
/** Length of the Shim6 Payload Extension header (RFC 5533 §5.2). */
export const PAYLOAD_HEADER_LEN = 8;
/** Signalling packets may not exceed the IPv6 minimum MTU, IPv6 header included (RFC 5533 §5.1). */
export const SIGNALLING_MAX_PACKET = 1280;
/** Largest context tag: tags are 47-bit unsigned integers (RFC 5533 §5.2). */
export const CONTEXT_TAG_MAX = 2 ** 47 - 1;

/** Shim6 message types (RFC 5533 §5.3 Table 1, §17; RFC 5534 §5.1-5.2). */
export const MessageType = {
  I1: 1,
  R1: 2,
  I2: 3,
  R2: 4,
  R1bis: 5,
  I2bis: 6,
  UpdateRequest: 64,
  UpdateAck: 65,
  Keepalive: 66,
  Probe: 67,
  Error: 68,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];
export type MessageKind = keyof typeof MessageType;

/** Registry names of the message types (RFC 5533 §17). */
export const MESSAGE_NAMES: Readonly<Record<MessageKind, string>> = {
  I1: 'I1',
  R1: 'R1',
  I2: 'I2',
  R2: 'R2',
  R1bis: 'R1bis',
  I2bis: 'I2bis',
  UpdateRequest: 'Update Request',
  UpdateAck: 'Update Acknowledgement',
  Keepalive: 'Keepalive',
  Probe: 'Probe',
  Error: 'Error',
};

/** The message kind of a type code, or undefined when the code is not assigned. */
export function messageKindOf(type: number): MessageKind | undefined {
  switch (type) {
    case 1: return 'I1';
    case 2: return 'R1';
    case 3: return 'I2';
    case 4: return 'R2';
    case 5: return 'R1bis';
    case 6: return 'I2bis';
    case 64: return 'UpdateRequest';
    case 65: return 'UpdateAck';
    case 66: return 'Keepalive';
    case 67: return 'Probe';
    case 68: return 'Error';
    default: return undefined;
  }
}

/** Type codes 64-127 trigger R1bis when no context matches; 0-63 never do (RFC 5533 §5.3). */
export function triggersR1bis(type: number): boolean {
  return type >= 64 && type <= 127;
}

/** Shim6 option types (RFC 5533 §5.15 Table 3, §17; RFC 5534 §5.3). */
export const OptionType = {
  ResponderValidator: 1,
  LocatorList: 2,
  LocatorPreferences: 3,
  CgaParameterDataStructure: 4,
  CgaSignature: 5,
  UlidPair: 6,
  ForkedInstanceIdentifier: 7,
  KeepaliveTimeout: 10,
} as const;
export type OptionType = (typeof OptionType)[keyof typeof OptionType];
export type KnownOptionKind = keyof typeof OptionType;

/** Registry names of the option types (RFC 5533 §17). */
export const OPTION_NAMES: Readonly<Record<KnownOptionKind, string>> = {
  ResponderValidator: 'Responder Validator',
  LocatorList: 'Locator List',
  LocatorPreferences: 'Locator Preferences',
  CgaParameterDataStructure: 'CGA Parameter Data Structure',
  CgaSignature: 'CGA Signature',
  UlidPair: 'ULID Pair',
  ForkedInstanceIdentifier: 'Forked Instance Identifier',
  KeepaliveTimeout: 'Keepalive Timeout',
};

/** The option kind of a type code, or undefined when this implementation does not know it. */
export function optionKindOf(type: number): KnownOptionKind | undefined {
  switch (type) {
    case 1: return 'ResponderValidator';
    case 2: return 'LocatorList';
    case 3: return 'LocatorPreferences';
    case 4: return 'CgaParameterDataStructure';
    case 5: return 'CgaSignature';
    case 6: return 'UlidPair';
    case 7: return 'ForkedInstanceIdentifier';
    case 10: return 'KeepaliveTimeout';
    default: return undefined;
  }
}

/** Human name of any option type code, including the registry's unassigned ranges (RFC 5533 §17). */
export function optionTypeName(type: number): string {
  const kind = optionKindOf(type);
  if (kind !== undefined) return OPTION_NAMES[kind];
  if (type === 0) return 'Reserved';
  if (type >= 16384) return 'Experimental';
  return 'Unassigned';
}

/** Human name of any message type code (RFC 5533 §17). */
export function messageTypeName(type: number): string {
  const kind = messageKindOf(type);
  if (kind !== undefined) return MESSAGE_NAMES[kind];
  if (type === 0) return 'Reserved';
  if ((type >= 60 && type <= 63) || type >= 124) return 'Experimental';
  return 'Unassigned';
}

/** Error Message codes (RFC 5533 §5.14 Table 2, §17). */
export const ErrorCode = {
  UnknownMessageType: 0,
  CriticalOptionNotRecognized: 1,
  LocatorVerificationMethodFailed: 2,
  LocatorListGenerationOutOfSync: 3,
  LocatorCountMismatch: 4,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
/** Error codes 120-127 are reserved for debugging (RFC 5533 §5.14). */
export const ERROR_CODE_DEBUG_MIN = 120;

/** Human description of an Error Message code (RFC 5533 §17). */
export function errorCodeName(code: number): string {
  switch (code) {
    case 0: return 'Unknown Shim6 message type';
    case 1: return 'Critical option not recognized';
    case 2: return 'Locator verification method failed';
    case 3: return 'Locator List Generation number out of sync';
    case 4: return 'Error in the number of locators in a Locator Preferences option';
    default: return code >= ERROR_CODE_DEBUG_MIN ? 'Debugging' : 'Unassigned';
  }
}

/** Locator Preferences flags (RFC 5533 §5.15.3). */
export const LocatorFlag = { BROKEN: 0x01, TRANSIENT: 0x02 } as const;

/** REAP states as carried in the Probe message's Sta field (RFC 5534 §5.2). */
export const ProbeState = { Operational: 0, Exploring: 1, InboundOk: 2 } as const;
export type ProbeState = (typeof ProbeState)[keyof typeof ProbeState];
