/**
 * The Shim6 wire codec: pure parse/emit functions over byte buffers for every message
 * and option of RFC 5533 §5 and RFC 5534 §5, the IPv6 header and extension-header walk
 * (RFC 8200), and in-place Payload Extension header insert/strip for the data plane.
 */
export * from './address.js';
export { bytesEqual, fromHex, internetChecksum, readTag47, toHex } from './bytes.js';
export * from './constants.js';
export * from './control.js';
export * from './exthdr.js';
export * from './ipv6.js';
export { makeErrorMessage, PACKET_IN_ERROR_MAX } from './messages/error.js';
export { PROBE_REPORTS_MAX } from './messages/probe.js';
export * from './options/index.js';
export * from './packet.js';
export * from './payload.js';
export * from './result.js';
export * from './verification-method.js';
