/**
 * I2bis, type 6: reply to an R1bis (RFC 5533 §5.9). Reserved2 is 49 bits so that the
 * 47-bit Packet Context Tag ends on an 8-octet boundary. Also carries the Keepalive
 * Timeout option (RFC 5534 §5.3).
 */
import { OptionType } from '../constants.js';
import { LOCATOR_SET_OPTIONS, type ControlHeaderFields, type FixedLayout } from './layout.js';

export interface I2bisMessage extends ControlHeaderFields {
  readonly kind: 'I2bis';
  readonly r: number;
  readonly initiatorContextTag: number;
  /** Random number the responder returns in R2. */
  readonly initiatorNonce: number;
  /** Copied from the R1bis. */
  readonly responderNonce: number;
  /** Reserved2: 49 bits, zero on transmit, ignored on receipt. */
  readonly reserved2: number;
  /** Copied from the Packet Context Tag of the R1bis. */
  readonly packetContextTag: number;
}

export const I2BIS_LAYOUT: FixedLayout<I2bisMessage> = {
  kind: 'I2bis',
  fixedLength: 32,
  fields: [
    { name: 'r', kind: 'rbit', offset: 6 },
    { name: 'initiatorContextTag', kind: 'tag47', offset: 6 },
    { name: 'initiatorNonce', kind: 'u32', offset: 12 },
    { name: 'responderNonce', kind: 'u32', offset: 16 },
    { name: 'reserved2', kind: 'u49', offset: 20 },
    { name: 'packetContextTag', kind: 'tag47', offset: 26 },
  ],
  allowedOptions: new Set([OptionType.ResponderValidator, OptionType.UlidPair, OptionType.ForkedInstanceIdentifier, ...LOCATOR_SET_OPTIONS]),
};
