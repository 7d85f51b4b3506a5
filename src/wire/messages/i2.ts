/**
 * I2, type 3: second establishment message from the initiator (RFC 5533 §5.6). Also
 * carries the Keepalive Timeout option (RFC 5534 §5.3).
 */
import { OptionType } from '../constants.js';
import { LOCATOR_SET_OPTIONS, type ControlHeaderFields, type FixedLayout } from './layout.js';

export interface I2Message extends ControlHeaderFields {
  readonly kind: 'I2';
  readonly r: number;
  readonly initiatorContextTag: number;
  /** Random number the responder returns in R2. */
  readonly initiatorNonce: number;
  /** Copied from the R1. */
  readonly responderNonce: number;
  /** Reserved2: 32 bits so that options start on an 8-octet boundary. */
  readonly reserved2: number;
}

export const I2_LAYOUT: FixedLayout<I2Message> = {
  kind: 'I2',
  fixedLength: 24,
  fields: [
    { name: 'r', kind: 'rbit', offset: 6 },
    { name: 'initiatorContextTag', kind: 'tag47', offset: 6 },
    { name: 'initiatorNonce', kind: 'u32', offset: 12 },
    { name: 'responderNonce', kind: 'u32', offset: 16 },
    { name: 'reserved2', kind: 'u32', offset: 20 },
  ],
  allowedOptions: new Set([OptionType.ResponderValidator, OptionType.UlidPair, OptionType.ForkedInstanceIdentifier, ...LOCATOR_SET_OPTIONS]),
};
