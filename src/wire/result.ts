/**
 * Typed parse results. Parsing never throws: it returns either a value or a `WireError`
 * naming the reason, the octet offset where the problem was found and, where RFC 5533
 * requires an Error Message in reply, the code and pointer to send (§5.14, §5.15, §12.3).
 *
 * Emitting a value that cannot be represented (a tag wider than 47 bits, too many
 * locators, a message over the signalling limit) is a programming error at an API
 * boundary and throws `WireEmitError`, which carries a `code`.
 */
import { ErrorCode } from './constants.js';

/** Every reason a parse can fail. */
export const WireErrorReason = {
  /** The buffer ends before a fixed-size field. */
  Truncated: 'truncated',
  /** IPv6 version is not 6. */
  BadIpVersion: 'bad-ip-version',
  /** IPv6 Payload Length claims more bytes than were received. */
  BadPayloadLength: 'bad-payload-length',
  /** An extension header claims to run past the packet. */
  ExtHeaderTruncated: 'ext-header-truncated',
  /** The packet carries no Shim6 header (protocol 140) where one was expected. */
  NoShim6Header: 'no-shim6-header',
  /** The Shim6 header claims (Hdr Ext Len) to end past the packet (RFC 5533 §12.3: drop silently). */
  HeaderPastEnd: 'header-past-end',
  /** Hdr Ext Len is too small for the fixed part of this message (RFC 5533 §5.4-5.14). */
  HeaderTooShort: 'header-too-short',
  /** Payload Extension header with Hdr Ext Len other than 0 (RFC 5533 §5.2). */
  BadPayloadHdrExtLen: 'bad-payload-hdr-ext-len',
  /** P bit is 1 where a control message was expected, or 0 where a payload header was (RFC 5533 §5.2-5.3). */
  WrongPBit: 'wrong-p-bit',
  /** S bit is 1: a HIP message, not Shim6 (RFC 5533 §5.3). */
  HipMessage: 'hip-message',
  /** Checksum mismatch (RFC 5533 §5.3, §12.3: drop silently). */
  BadChecksum: 'bad-checksum',
  /** Message type not known to this implementation (RFC 5533 §12.3: Error code 0). */
  UnknownMessageType: 'unknown-message-type',
  /** Option header or body runs past the end of the message. */
  OptionTruncated: 'option-truncated',
  /** Unknown option, or one not valid for this message, with C=1 (RFC 5533 §5.15: Error code 1). */
  UnrecognizedCriticalOption: 'unrecognized-critical-option',
  /** A known option whose Length its format forbids (e.g. ULID Pair not 36). */
  BadOptionLength: 'bad-option-length',
  /** Locator List Length does not match its Num Locators (RFC 5533 §5.15.2). */
  BadLocatorList: 'bad-locator-list',
  /** Locator Preferences with Element Len 0 or elements that do not fill the option (RFC 5533 §5.15.3). */
  BadLocatorPreferences: 'bad-locator-preferences',
  /** Probe with Psent 0 or reports that do not fit the header (RFC 5534 §5.2). */
  BadProbe: 'bad-probe',
  /** A control message from or to a multicast or unspecified address (RFC 5533 §12.3: drop silently). */
  BadAddress: 'bad-address',
} as const;
export type WireErrorReason = (typeof WireErrorReason)[keyof typeof WireErrorReason];

/** The Error Message (RFC 5533 §5.14) a receiver should send back for a rejected packet. */
export interface ErrorReply {
  readonly code: ErrorCode;
  /** Octet offset within the invoking packet (see README "Conformance notes"). */
  readonly pointer: number;
}

export interface WireError {
  readonly reason: WireErrorReason;
  /** One sentence for people and logs. */
  readonly message: string;
  /** Octet offset in the parsed buffer where the problem was found. */
  readonly offset: number;
  /** Present when RFC 5533 requires an Error Message in reply. */
  readonly reply?: ErrorReply;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: WireError };

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function fail<T>(reason: WireErrorReason, offset: number, message: string, reply?: ErrorReply): Parsed<T> {
  return { ok: false, error: reply === undefined ? { reason, message, offset } : { reason, message, offset, reply } };
}

/** Re-type a failure so it can be returned from a parser of another type. */
export function forward<T>(r: { readonly ok: false; readonly error: WireError }): Parsed<T> {
  return r;
}

export const WireEmitErrorCode = {
  /** A field value does not fit its wire width. */
  FieldRange: 'field-range',
  /** The caller's buffer is too small. */
  BufferTooSmall: 'buffer-too-small',
  /** The message would exceed the 1280-byte signalling limit (RFC 5533 §5.1) or 2048-byte header limit. */
  TooLarge: 'too-large',
} as const;
export type WireEmitErrorCode = (typeof WireEmitErrorCode)[keyof typeof WireEmitErrorCode];

export class WireEmitError extends Error {
  readonly code: WireEmitErrorCode;
  constructor(code: WireEmitErrorCode, message: string) {
    super(message);
    this.name = 'WireEmitError';
    this.code = code;
  }
}
