/** R1bis, type 5: reply to a reference to a non-existent context (RFC 5533 §5.8). */
import { OptionType } from '../constants.js';
import type { ControlHeaderFields, FixedLayout } from './layout.js';

export interface R1bisMessage extends ControlHeaderFields {
  readonly kind: 'R1bis';
  readonly r: number;
  /** The Context Tag of the packet that triggered this R1bis. */
  readonly packetContextTag: number;
  /** Picked by the responder; returned in I2bis. */
  readonly responderNonce: number;
}

export const R1BIS_LAYOUT: FixedLayout<R1bisMessage> = {
  kind: 'R1bis',
  fixedLength: 16,
  fields: [
    { name: 'r', kind: 'rbit', offset: 6 },
    { name: 'packetContextTag', kind: 'tag47', offset: 6 },
    { name: 'responderNonce', kind: 'u32', offset: 12 },
  ],
  allowedOptions: new Set([OptionType.ResponderValidator]),
};
