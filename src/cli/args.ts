/**
 * Command-line flag parsing for the `shim6` tool: `--name value`, `--name=value`, short
 * aliases (`-h`), boolean flags, and value choices. Every problem comes back as one line
 * naming the flag, for a usage error (exit 2). No positional arguments are accepted:
 * every input is named by a flag.
 */

export interface FlagSpec {
  /** True when the flag takes a value. */
  readonly value: boolean;
  /** One-letter alias, without the dash. */
  readonly short?: string;
  /** Accepted values, when the set is closed. */
  readonly choices?: readonly string[];
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export type ParsedFlags =
  | { readonly ok: true; readonly flags: Readonly<Record<string, string | true>> }
  | { readonly ok: false; readonly message: string };

/** Parses `argv` (after the command name) against `specs`, keyed by long name without dashes. */
export function parseFlags(argv: readonly string[], specs: FlagSpecs): ParsedFlags {
  const flags: Record<string, string | true> = {};
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short !== undefined) byShort.set(spec.short, name);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (eq >= 0) inline = arg.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(arg)) {
      name = byShort.get(arg.slice(1));
      if (name === undefined) return { ok: false, message: `unknown flag '${arg}'` };
    } else {
      return { ok: false, message: `unexpected argument '${arg}'` };
    }
    const spec = specs[name];
    if (spec === undefined) return { ok: false, message: `unknown flag '--${name}'` };
    if (flags[name] !== undefined) return { ok: false, message: `--${name} is given more than once` };
    if (!spec.value) {
      if (inline !== undefined) return { ok: false, message: `--${name} takes no value` };
      flags[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-')) return { ok: false, message: `--${name} needs a value` };
      value = next;
      i++;
    }
    if (spec.choices !== undefined && !spec.choices.includes(value)) {
      return { ok: false, message: `--${name} must be one of ${spec.choices.join(', ')}, got '${value}'` };
    }
    flags[name] = value;
  }
  return { ok: true, flags };
}
