#!/usr/bin/env node
/**
 * `shim6d --config FILE [--log-level L] [--check]`: the daemon's entry point, and the one
 * place where the daemon meets the real devices — a TUN (src/io/tun.ts), a raw sender
 * marked with the configured fwmark and raw receivers for Shim6 (protocol 140) and
 * ICMPv6 errors (src/io/raw.ts) — and the real DataPlane. Everything else is in
 * main.ts (process) and daemon.ts (core).
 *
 * `shim6 daemon ...` imports this module for `realDataPlane`; run directly, it starts
 * the daemon and exits with daemonMain's code.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DataPlane } from '../dataplane/dataplane.js';
import { PacketBatch } from '../io/batch.js';
import { IPPROTO_ICMPV6, openRawReceiver, openRawSender } from '../io/raw.js';
import { openTun, TunOffload } from '../io/tun.js';
import { IPPROTO_SHIM6 } from '../wire/constants.js';
import type { DataPlaneFactory } from './daemon.js';
import { daemonMain } from './main.js';

/** Largest packet the data plane's batches hold by default (DataPlaneOptions.maxPacket). */
const DEFAULT_MAX_PACKET = 9216;
const MAX_PACKET_LIMIT = 65575;
/** Control messages per sendmmsg, and the largest one (a Shim6 message is at most 2048 octets plus the IPv6 header; RFC 5533 §5). */
const CONTROL_BATCH = 16;
const CONTROL_SLOT = 4096;

/** Opens the devices and builds the DataPlane over them; closes what it opened if any step fails. */
export const realDataPlane: DataPlaneFactory = ({ tunName, mtu, offload, fwmark, events, intercept: interceptName }) => {
  const opened: { close(): void }[] = [];
  const closeAll = (): void => {
    for (const d of opened.splice(0).reverse()) {
      try { d.close(); } catch { /* already closed */ }
    }
  };
  try {
    const tun = offload
      ? openTun({ name: tunName, vnetHdr: true, offloads: TunOffload.CSUM | TunOffload.TSO6 | TunOffload.TSO_ECN })
      : openTun({ name: tunName });
    opened.push(tun);
    const sender = openRawSender(fwmark);
    opened.push(sender);
    const shim = openRawReceiver(IPPROTO_SHIM6);
    opened.push(shim);
    const icmp = openRawReceiver(IPPROTO_ICMPV6, { icmpErrorsOnly: true });
    opened.push(icmp);
    // Flow-label mode (issue #8): the TUN the locator interfaces' ingress redirects
    // flow-labelled packets into; plain packets, no vnet header (the kernel segments).
    const intercept = interceptName === undefined ? undefined : openTun({ name: interceptName });
    if (intercept !== undefined) opened.push(intercept);
    const maxPacket = Math.min(MAX_PACKET_LIMIT, Math.max(DEFAULT_MAX_PACKET, mtu + 8));
    const dp = new DataPlane({ tun, sender, shim, icmp, ...(intercept === undefined ? {} : { intercept }) }, { events, maxPacket, offload });
    // Control messages go through the data plane's marked raw sender too (they bypass the
    // rule into the TUN and leave by the source locator's exit), in their own small batch.
    const control = new PacketBatch(CONTROL_BATCH, CONTROL_SLOT, 0);
    return {
      control: dp,
      tunName: tun.name,
      ...(intercept === undefined ? {} : { interceptName: intercept.name }),
      sendControl: (packets) => {
        let sent = 0;
        for (let i = 0; i < packets.length; i += CONTROL_BATCH) {
          control.count = 0;
          for (const p of packets.slice(i, i + CONTROL_BATCH)) {
            if (p.length > CONTROL_SLOT) continue;
            const off = control.count * CONTROL_SLOT;
            control.buffer.set(p, off);
            control.offsets[control.count] = off;
            control.lengths[control.count] = p.length;
            control.count++;
          }
          if (control.count > 0) sent += sender.writeBatch(control);
        }
        return sent;
      },
      setTap: (tap) => dp.setTap(tap),
      start: () => dp.start(),
      close: () => {
        dp.stop();
        closeAll();
      },
    };
  } catch (e) {
    closeAll();
    throw e;
  }
};

function isMain(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  daemonMain(process.argv.slice(2), 'shim6d', async () => realDataPlane).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`shim6d: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
