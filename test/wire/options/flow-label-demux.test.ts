/**
 * The experimental Flow Label Demux option (issue #8, src/wire/options/flow-label-demux.ts):
 * type 16401 (RFC 5533 §17's experimental range), C = 0, Length 4, then Vers (4 bits) = 1,
 * 8 reserved bits and the 20-bit Receive Flow Label. It travels as an unknown option
 * through the generic codec, so a peer's malformed one can never make a message invalid.
 */
import { describe, expect, it } from 'vitest';
import { FLOW_LABEL_DEMUX_OPTION_TYPE, flowLabelDemuxOption, MAX_FLOW_LABEL, readFlowLabelDemux, type Option } from '../../../src/wire/index.js';
import { SeededRandom } from '../../../src/sim/random.js';
import { emitOptionArea, expectOk, hex, parseOptionArea } from '../vectors.js';

describe('Flow Label Demux option (experimental, issue #8)', () => {
  it('emits the hand-written vector: type 16401 with C = 0 is 0x8022, Length 4, Vers 1, label 0x12345', () => {
    const v = hex('8022', '0004', '1001 2345'); // 4 + 4 octets: no padding (RFC 5533 §5.15)
    expect(emitOptionArea([flowLabelDemuxOption(0x12345)])).toEqual(v);
    const back = expectOk(parseOptionArea(v));
    expect(back).toHaveLength(1);
    expect(readFlowLabelDemux(back)).toEqual({ label: 0x12345 });
  });

  it('label 0 says "mode understood, no label"; the largest label is 0xfffff', () => {
    expect(readFlowLabelDemux([flowLabelDemuxOption(0)])).toEqual({ label: 0 });
    expect(readFlowLabelDemux([flowLabelDemuxOption(MAX_FLOW_LABEL)])).toEqual({ label: MAX_FLOW_LABEL });
  });

  it('refuses to build a label outside 0..0xfffff', () => {
    for (const bad of [-1, 0x100000, 1.5, Number.NaN]) expect(() => flowLabelDemuxOption(bad)).toThrow(RangeError);
  });

  it('ignores options of the type in another format (someone else\'s experiment) and takes the first valid one', () => {
    const other = (contents: number[]): Option => ({ kind: 'Unknown', type: FLOW_LABEL_DEMUX_OPTION_TYPE, critical: false, contents: new Uint8Array(contents) });
    expect(readFlowLabelDemux([other([0x10, 0, 0])])).toBeUndefined(); // Length 3
    expect(readFlowLabelDemux([other([0x20, 0, 0, 1])])).toBeUndefined(); // Vers 2
    expect(readFlowLabelDemux([other([0x10, 0, 0, 1, 0])])).toBeUndefined(); // Length 5
    expect(readFlowLabelDemux([other([0x20, 0, 0, 1]), flowLabelDemuxOption(9), flowLabelDemuxOption(10)])).toEqual({ label: 9 });
    expect(readFlowLabelDemux([{ kind: 'Unknown', type: 16_400, critical: false, contents: new Uint8Array([0x10, 0, 0, 1]) }])).toBeUndefined();
    expect(readFlowLabelDemux([])).toBeUndefined();
  });

  it('reserved bits are ignored on receipt', () => {
    const o: Option = { kind: 'Unknown', type: FLOW_LABEL_DEMUX_OPTION_TYPE, critical: false, contents: new Uint8Array([0x1f, 0xf0, 0x00, 0x07]) };
    expect(readFlowLabelDemux([o])).toEqual({ label: 7 });
  });

  it('property: any contents give undefined or a label in range, never a throw (5,000 seeded cases)', () => {
    const r = new SeededRandom(8);
    for (let i = 0; i < 5000; i++) {
      const contents = r.bytes(r.int(9));
      const got = readFlowLabelDemux([{ kind: 'Unknown', type: FLOW_LABEL_DEMUX_OPTION_TYPE, critical: r.int(2) === 1, contents }]);
      if (got === undefined) expect(contents.length !== 4 || contents[0]! >>> 4 !== 1).toBe(true);
      else expect(got.label).toBe(((contents[1]! & 0x0f) << 16) | (contents[2]! << 8) | contents[3]!);
    }
  });
});
