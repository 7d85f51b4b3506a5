/**
 * R2, type 4: second establishment message from the responder, also the answer to
 * crossing I1s (RFC 5533 §5.7). Also carries the Keepalive Timeout option (RFC 5534 §5.3).
 */
import { LOCATOR_SET_OPTIONS, type ControlHeaderFields, type FixedLayout } from './layout.js';

export interface R2Message extends ControlHeaderFields {
  readonly kind: 'R2';
  readonly r: number;
  /** The Context Tag the responder has allocated for the context. */
  readonly responderContextTag: number;
  /** Copied from the I2. */
  readonly initiatorNonce: number;
}

export const R2_LAYOUT: FixedLayout<R2Message> = {
  kind: 'R2',
  fixedLength: 16,
  fields: [
    { name: 'r', kind: 'rbit', offset: 6 },
    { name: 'responderContextTag', kind: 'tag47', offset: 6 },
    { name: 'initiatorNonce', kind: 'u32', offset: 12 },
  ],
  allowedOptions: new Set([...LOCATOR_SET_OPTIONS]),
};
