/**
 * The lifecycle every native device shares: a file descriptor from the addon, its
 * readiness poll (native/src/poll.c) and an idempotent close. tun.ts and raw.ts hold
 * one each and add their own reads and writes.
 */
import { DeviceError } from './device.js';
import { toDeviceError, type NativeAddon } from './native.js';

export class NativeFd {
  readonly addon: NativeAddon;
  /** Names the device in errors, e.g. "TUN device shim6tun0". */
  readonly what: string;
  #fd: number;
  /** pollStart handle, 0 when not polling. */
  #poll = 0;
  #onReadable: (() => void) | null = null;
  /** The one function the poll calls; forwards to the current callback. */
  readonly #fire = (): void => {
    this.#onReadable?.();
  };

  constructor(addon: NativeAddon, fd: number, what: string) {
    this.addon = addon;
    this.#fd = fd;
    this.what = what;
  }

  /** The descriptor; throws DeviceError 'closed' naming `operation` after close(). */
  open(operation: string): number {
    if (this.#fd < 0) throw new DeviceError('closed', `${operation}: ${this.what} is closed`);
    return this.#fd;
  }

  /** Calls `cb` whenever the descriptor is readable; null stops polling. */
  onReadable(cb: (() => void) | null): void {
    if (cb !== null) this.open('onReadable');
    this.#onReadable = cb;
    if (cb !== null && this.#poll === 0) {
      try {
        this.#poll = this.addon.pollStart(this.#fd, this.#fire);
      } catch (error) {
        this.#onReadable = null;
        throw toDeviceError(error);
      }
    } else if (cb === null && this.#poll !== 0) {
      this.addon.pollStop(this.#poll);
      this.#poll = 0;
    }
  }

  /** Stops polling and closes the descriptor; idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    this.onReadable(null);
    const fd = this.#fd;
    this.#fd = -1;
    try {
      this.addon.closeFd(fd);
    } catch (error) {
      throw toDeviceError(error);
    }
  }
}
