/**
 * Error Message, type 68 (RFC 5533 §5.14). The 7 bits that are Reserved1 elsewhere hold
 * the Error Code; octets 6-7 hold the Pointer; the rest of the header is the packet in
 * error, zero-padded to a multiple of 8 octets (its own length is not carried, so the
 * padding is part of the parsed `packetInError`). There are no options.
 *
 * The RFC says Hdr Ext Len is "at least 1, since the header is 16 octets", so a
 * shorter Error message is rejected as `header-too-short`.
 */
import { checkRange, readU16, writeU16 } from '../bytes.js';
import { IPV6_HEADER_LEN, SIGNALLING_MAX_PACKET } from '../constants.js';

export interface ErrorMessage {
  readonly kind: 'Error';
  readonly nextHeader: number;
  /** Error Code (7 bits), see `ErrorCode`. */
  readonly errorCode: number;
  /** Octet offset within the invoking packet where the error was detected. */
  readonly pointer: number;
  /** As much of the invoking packet as fits (with any zero padding the sender added). */
  readonly packetInError: Uint8Array;
}

export const ERROR_FIXED_LENGTH = 8;
export const ERROR_MIN_LENGTH = 16;
/** Most octets of the invoking packet an Error message can carry within 1280 octets (RFC 5533 §5.14). */
export const PACKET_IN_ERROR_MAX = SIGNALLING_MAX_PACKET - IPV6_HEADER_LEN - ERROR_FIXED_LENGTH;

export function parseErrorFields(b: Uint8Array, off: number, hdrLen: number): Omit<ErrorMessage, 'kind' | 'nextHeader'> {
  return { errorCode: b[off + 3]! >>> 1, pointer: readU16(b, off + 6), packetInError: b.slice(off + ERROR_FIXED_LENGTH, off + hdrLen) };
}

export function errorMessageLength(m: ErrorMessage): number {
  return Math.max(ERROR_MIN_LENGTH, ERROR_FIXED_LENGTH + ((m.packetInError.length + 7) & ~7));
}

export function validateErrorMessage(m: ErrorMessage): void {
  checkRange('Error Code', m.errorCode, 127);
  checkRange('Pointer', m.pointer, 0xffff);
}

/** Writes the Error-specific fields and the zero-padded packet in error; returns the end offset. */
export function emitErrorFields(m: ErrorMessage, b: Uint8Array, off: number): number {
  const end = off + errorMessageLength(m);
  b[off + 3] = m.errorCode << 1;
  writeU16(b, off + 6, m.pointer);
  b.set(m.packetInError, off + ERROR_FIXED_LENGTH);
  b.fill(0, off + ERROR_FIXED_LENGTH + m.packetInError.length, end);
  return end;
}

/**
 * An Error message about `invokingPacket` (IPv6 header first), truncated so the reply
 * stays within the 1280-octet signalling limit (RFC 5533 §5.14).
 */
export function makeErrorMessage(errorCode: number, pointer: number, invokingPacket: Uint8Array): ErrorMessage {
  return {
    kind: 'Error',
    nextHeader: 59,
    errorCode,
    pointer,
    packetInError: invokingPacket.slice(0, Math.min(invokingPacket.length, PACKET_IN_ERROR_MAX)),
  };
}
