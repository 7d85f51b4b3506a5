/** The one error class of the simulator and the library API, with a `code` (STYLE.md: API errors are one class with a code). */
export class SimError extends Error {
  readonly code:
    /** A ULID the host does not have. */
    | 'no-identity'
    /** The host is crashed. */
    | 'host-down'
    /** `nextDeadline()` never advances (an engine bug). */
    | 'timer-livelock'
    /** A bad name, duplicate host or similar misuse. */
    | 'bad-argument'
    /** Not a /64 prefix. */
    | 'bad-prefix'
    /** A key that cannot make the requested identity. */
    | 'bad-key'
    /** Not a 16-octet IPv6 address. */
    | 'bad-address';

  constructor(code: SimError['code'], message: string) {
    super(message);
    this.name = 'SimError';
    this.code = code;
  }
}
