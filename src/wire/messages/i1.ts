/** I1, type 1: first establishment message from the initiator (RFC 5533 §5.4). */
import { OptionType } from '../constants.js';
import type { ControlHeaderFields, FixedLayout } from './layout.js';

export interface I1Message extends ControlHeaderFields {
  readonly kind: 'I1';
  readonly r: number;
  /** The Context Tag the initiator has allocated for the context. */
  readonly initiatorContextTag: number;
  /** Random number the responder returns in R1. */
  readonly initiatorNonce: number;
}

export const I1_LAYOUT: FixedLayout<I1Message> = {
  kind: 'I1',
  fixedLength: 16,
  fields: [
    { name: 'r', kind: 'rbit', offset: 6 },
    { name: 'initiatorContextTag', kind: 'tag47', offset: 6 },
    { name: 'initiatorNonce', kind: 'u32', offset: 12 },
  ],
  allowedOptions: new Set([OptionType.UlidPair, OptionType.ForkedInstanceIdentifier]),
};
