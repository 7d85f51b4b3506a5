/** R1, type 2: first establishment message from the responder, sent without keeping state (RFC 5533 §5.5). */
import { OptionType } from '../constants.js';
import type { ControlHeaderFields, FixedLayout } from './layout.js';

export interface R1Message extends ControlHeaderFields {
  readonly kind: 'R1';
  /** Reserved2: 16 bits, zero on transmit, ignored on receipt. */
  readonly reserved2: number;
  /** Copied from the I1. */
  readonly initiatorNonce: number;
  /** Picked by the responder; returned in I2. */
  readonly responderNonce: number;
}

export const R1_LAYOUT: FixedLayout<R1Message> = {
  kind: 'R1',
  fixedLength: 16,
  fields: [
    { name: 'reserved2', kind: 'u16', offset: 6 },
    { name: 'initiatorNonce', kind: 'u32', offset: 8 },
    { name: 'responderNonce', kind: 'u32', offset: 12 },
  ],
  allowedOptions: new Set([OptionType.ResponderValidator]),
};
