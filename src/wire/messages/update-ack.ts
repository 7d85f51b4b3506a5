/** Update Acknowledgement, type 65 (RFC 5533 §5.11). No options are defined for it. */
import type { ControlHeaderFields, FixedLayout } from './layout.js';

export interface UpdateAckMessage extends ControlHeaderFields {
  readonly kind: 'UpdateAck';
  readonly r: number;
  /** The Context Tag the receiver has allocated for the context. */
  readonly receiverContextTag: number;
  /** Copied from the Update Request. */
  readonly requestNonce: number;
}

export const UPDATE_ACK_LAYOUT: FixedLayout<UpdateAckMessage> = {
  kind: 'UpdateAck',
  fixedLength: 16,
  fields: [
    { name: 'r', kind: 'rbit', offset: 6 },
    { name: 'receiverContextTag', kind: 'tag47', offset: 6 },
    { name: 'requestNonce', kind: 'u32', offset: 12 },
  ],
  allowedOptions: new Set<number>(),
};
