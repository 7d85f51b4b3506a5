/**
 * The experimental flow-label demultiplexing mode on a context (issue #8; the option's
 * format is in src/wire/options/flow-label-demux.ts): negotiation only. What the data
 * plane does with the labels is in src/dataplane/egress.ts and flow-label.ts.
 *
 * - Sending: every I2, I2bis, R2 and Update Request carries our Flow Label Demux option
 *   (like the Keepalive Timeout option, RFC 5534 §5.3), with the label allocated for the
 *   context the first time one of them is sent (`env.flowLabel.allocate`; 0 when the
 *   space is exhausted, which tells the peer to keep using the Payload Extension header).
 *   The label stays with the context until it is removed; the engine then releases it
 *   into quarantine.
 * - Receiving: the last accepted I2, I2bis, R2 or Update Request from the peer decides
 *   `flowLabelPeer`: its option's label, or 0 when it carries none (a peer without the
 *   mode, or one that turned it off). A host in this mode always sends the option, so
 *   its absence is meaningful.
 * - With the mode off (`env.flowLabel` absent) nothing is sent and the peer's option is
 *   ignored, as RFC 5533 §5.15 has a host do with an unknown non-critical option.
 */
import { flowLabelDemuxOption, readFlowLabelDemux } from '../wire/options/flow-label-demux.js';
import { CARRIES_ADVERTISEMENTS, carriesAdvertisements, withAdvertisements } from './messages.js';
import { ContextState, type ContextEnv, type ContextInput, type StepResult } from './types.js';

/** The flow-label part of one context step (called by `step` after REAP's part). */
export function withFlowLabel(result: StepResult, input: ContextInput, now: number, env: ContextEnv): StepResult {
  const hooks = env.flowLabel;
  if (hooks === undefined) return result;
  let ctx = result.ctx;
  const m = input.kind === 'control' ? input.rx.message : undefined;
  if (m !== undefined && result.drop === undefined && CARRIES_ADVERTISEMENTS.has(m.kind) && m.kind !== 'Error' && ctx.state !== ContextState.IDLE) {
    const peer = readFlowLabelDemux(m.options)?.label ?? 0;
    if (ctx.flowLabelPeer !== peer) ctx = { ...ctx, flowLabelPeer: peer };
  }
  const sends = result.actions.some(carriesAdvertisements);
  if (sends && ctx.flowLabelLocal === undefined) ctx = { ...ctx, flowLabelLocal: hooks.allocate(ctx, now) };
  if (ctx === result.ctx && !sends) return result;
  const actions = sends ? withAdvertisements(result.actions, [flowLabelDemuxOption(ctx.flowLabelLocal ?? 0)]) : result.actions;
  return { ...result, ctx, actions };
}
