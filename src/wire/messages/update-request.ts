/**
 * Update Request, type 64 (RFC 5533 §5.10): replaces the locator list, the preferences,
 * or both. Also carries the Keepalive Timeout option ("UPDATE messages", RFC 5534 §5.3).
 */
import { LOCATOR_SET_OPTIONS, type ControlHeaderFields, type FixedLayout } from './layout.js';

export interface UpdateRequestMessage extends ControlHeaderFields {
  readonly kind: 'UpdateRequest';
  readonly r: number;
  /** The Context Tag the receiver has allocated for the context. */
  readonly receiverContextTag: number;
  /** Returned in the Update Acknowledgement. */
  readonly requestNonce: number;
}

export const UPDATE_REQUEST_LAYOUT: FixedLayout<UpdateRequestMessage> = {
  kind: 'UpdateRequest',
  fixedLength: 16,
  fields: [
    { name: 'r', kind: 'rbit', offset: 6 },
    { name: 'receiverContextTag', kind: 'tag47', offset: 6 },
    { name: 'requestNonce', kind: 'u32', offset: 12 },
  ],
  allowedOptions: new Set([...LOCATOR_SET_OPTIONS]),
};
