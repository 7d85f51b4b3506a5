/** Keepalive, type 66 (RFC 5534 §5.1). No options are defined for it yet. */
import type { ControlHeaderFields, FixedLayout } from './layout.js';

export interface KeepaliveMessage extends ControlHeaderFields {
  readonly kind: 'Keepalive';
  readonly r: number;
  /** The Context Tag the receiver has allocated for the context. */
  readonly receiverContextTag: number;
  /** Reserved2: 32 bits, zero on transmit, ignored on receipt. */
  readonly reserved2: number;
}

export const KEEPALIVE_LAYOUT: FixedLayout<KeepaliveMessage> = {
  kind: 'Keepalive',
  fixedLength: 16,
  fields: [
    { name: 'r', kind: 'rbit', offset: 6 },
    { name: 'receiverContextTag', kind: 'tag47', offset: 6 },
    { name: 'reserved2', kind: 'u32', offset: 12 },
  ],
  allowedOptions: new Set<number>(),
};
