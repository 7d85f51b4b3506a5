/**
 * shim6d as a process: flags, the configuration file, the logger, signal and fatal-error
 * handling around a Daemon. `shim6d` (shim6d.ts) and `shim6 daemon` both call
 * `daemonMain`, passing how to build the real data plane; tests pass fakes, an event
 * emitter for the process, and a recording command runner.
 *
 * Exit codes: 0 stopped by SIGINT/SIGTERM (or --check/--help passed), 1 invalid
 * configuration, failed startup or a fatal error (after teardown), 2 usage error.
 */
import { readFile, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { packageVersion } from '../version.js';
import { CONFIG_LIMITS, ConfigError, LOG_LEVELS, parseConfig, type DaemonConfig, type LogLevel } from './config.js';
import { Daemon, type DaemonOptions, type DataPlaneFactory } from './daemon.js';
import { createLogger, type Log } from './log.js';
import { execFileRunner, LinuxNetwork, type CommandRunner } from './system.js';
import { FlowLabelIntercept } from '../io/flow-label-intercept.js';
import { NftTraffic } from '../io/nft-traffic.js';
import { addAddress, linkStates, NetlinkMonitor } from '../io/netlink-monitor.js';

export function daemonHelp(prog: string): string {
  return `Usage: ${prog} --config FILE [--log-level LEVEL] [--check]

Runs the Shim6 daemon (RFC 5533, REAP RFC 5534, HBA RFC 5535) as FILE says: with an
'identity', generates (or loads) the host's Hash-Based Addresses, puts them on their
interfaces, and establishes contexts and fails over by itself; static 'contexts' are
installed as given. Serves the control socket that 'shim6 status', 'shim6 contexts',
'shim6 locators', 'shim6 establish', 'shim6 explore', 'shim6 pcap' and 'shim6 metrics'
talk to. Logs are JSON lines on stdout. SIGHUP reloads FILE (contexts are kept);
SIGINT or SIGTERM saves the contexts to the state file, tears everything down and exits 0.

Flags:
      --config FILE       the JSON configuration (see examples/config/)
      --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default: the file's logLevel, else info)
      --check             validate FILE, print a summary and exit
  -h, --help              show this help
  -V, --version           show the version

Exit codes: 0 ok, 1 invalid configuration or failure, 2 usage error.
`;
}

/** The parts of `process` the daemon hooks into. */
export interface DaemonProcess {
  on(event: 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'uncaughtException' | 'unhandledRejection', listener: (arg: unknown) => void): unknown;
  off(event: 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'uncaughtException' | 'unhandledRejection', listener: (arg: unknown) => void): unknown;
}

export interface DaemonMainIo {
  readonly out: (text: string) => void;
  readonly err: (line: string) => void;
  readonly process: DaemonProcess;
  readonly runner: CommandRunner;
  readonly createLog: (level: LogLevel) => Log & { level?: string };
  readonly version: string;
  /** Passed to the Daemon (tests shorten control-socket limits). */
  readonly daemonOptions?: Partial<Pick<DaemonOptions, 'now' | 'pid' | 'control' | 'traffic' | 'monitor' | 'host' | 'random' | 'provider'>>;
  /** Called once the daemon runs (tests use it to talk to it, then emit a signal). */
  readonly onRunning?: (daemon: Daemon) => void;
}

const defaultIo = (): DaemonMainIo => ({
  out: (text) => { process.stdout.write(text); },
  err: (line) => { process.stderr.write(`${line}\n`); },
  process,
  runner: execFileRunner(),
  createLog: createLogger,
  version: packageVersion(),
});

/** Reads and validates a configuration file; throws ConfigError (an unreadable file is one too). */
export async function loadConfigFile(path: string): Promise<DaemonConfig> {
  let text: string;
  try {
    const size = (await stat(path)).size;
    if (size > CONFIG_LIMITS.fileBytes) throw new ConfigError([{ path: '', message: `larger than ${CONFIG_LIMITS.fileBytes} octets` }]);
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError([{ path: '', message: `cannot read: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  return parseConfig(text);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs shim6d until a signal or a fatal error; resolves to the exit code. `loadFactory`
 * is called only when the daemon actually starts, so --help and --check work without
 * the native devices.
 */
export async function daemonMain(argv: readonly string[], prog: string, loadFactory: () => Promise<DataPlaneFactory>, ioOverrides: Partial<DaemonMainIo> = {}): Promise<number> {
  const io: DaemonMainIo = { ...defaultIo(), ...ioOverrides };
  const usage = (message: string): number => {
    io.err(`${prog}: ${message} (see '${prog} --help')`);
    return 2;
  };
  let values: { config?: string; 'log-level'?: string; check?: boolean; help?: boolean; version?: boolean };
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string' },
        'log-level': { type: 'string' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    return usage(errorText(e));
  }
  if (values.help === true) { io.out(daemonHelp(prog)); return 0; }
  if (values.version === true) { io.out(`shim6d ${io.version}\n`); return 0; }
  const path = values.config;
  if (path === undefined) return usage('--config FILE is required');
  const level = values['log-level'];
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) return usage(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${level}'`);

  let config: DaemonConfig;
  try {
    config = await loadConfigFile(path);
  } catch (e) {
    io.err(`${prog}: ${path}: ${errorText(e)}`);
    return 1;
  }
  if (values.check === true) {
    const n = config.contexts.length;
    const id = config.identity === undefined ? '' : `, an HBA identity over ${config.identity.prefixes.length} prefix${config.identity.prefixes.length === 1 ? '' : 'es'}, REAP ${config.reap.mode}`;
    io.out(`${path}: ok (${config.locators.length} locator${config.locators.length === 1 ? '' : 's'}, ${n} context${n === 1 ? '' : 's'}${id})\n`);
    return 0;
  }

  const log = io.createLog((level as LogLevel | undefined) ?? config.logLevel);
  let createDataPlane: DataPlaneFactory;
  try {
    createDataPlane = await loadFactory();
  } catch (e) {
    log.error({ error: errorText(e) }, 'cannot load the data plane');
    io.err(`${prog}: cannot load the data plane: ${errorText(e)}`);
    return 1;
  }
  const network = new LinuxNetwork({
    tunName: config.tun.name, mtu: config.tun.mtu, fwmark: config.fwmark, routeTable: config.routeTable, rulePriority: config.rulePriority,
    ...(config.flowLabel === undefined ? {} : { flowLabelTable: config.flowLabel.routeTable, interceptName: config.flowLabel.interceptDevice }),
  }, io.runner);
  const tableName = `shim6d_${config.tun.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const daemon = new Daemon({
    traffic: new NftTraffic({ table: tableName, fwmark: config.fwmark }, io.runner),
    monitor: new NetlinkMonitor({}),
    host: {
      addAddress: (ifname, address, len) => addAddress(io.runner, ifname, address, len),
      linkStates: () => linkStates(io.runner),
      flushNeighbours: async (ifname) => {
        const r = await io.runner('ip', ['-6', 'neigh', 'flush', 'dev', ifname]);
        if (r.code !== 0) throw new Error(`ip -6 neigh flush dev ${ifname}: ${r.stderr.trim()}`);
      },
    },
    ...io.daemonOptions,
    config, network, createDataPlane, log, version: io.version,
    setLogLevel: (l) => { if ('level' in log) (log as { level: string }).level = l; },
    loadConfig: () => loadConfigFile(path),
    createIntercept: (devices, target) => new FlowLabelIntercept({ table: `shim6fl_${config.tun.name.replace(/[^A-Za-z0-9_]/g, '_')}`, devices, target }, io.runner),
  });

  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => { finish = resolve; });
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => (): void => {
    log.info({ signal }, 'signal received');
    finish(0);
  };
  const onInt = onSignal('SIGINT');
  const onTerm = onSignal('SIGTERM');
  const onHup = (): void => {
    log.info({ signal: 'SIGHUP', config: path }, 'signal received: reloading');
    daemon.reloadFromFile().catch(() => { /* logged by the daemon; the running configuration stays */ });
  };
  const onFatal = (e: unknown): void => {
    log.error({ error: errorText(e), stack: e instanceof Error ? e.stack : undefined }, 'fatal error');
    finish(1);
  };
  io.process.on('SIGINT', onInt);
  io.process.on('SIGTERM', onTerm);
  io.process.on('SIGHUP', onHup);
  io.process.on('uncaughtException', onFatal);
  io.process.on('unhandledRejection', onFatal);
  const unhook = (): void => {
    io.process.off('SIGINT', onInt);
    io.process.off('SIGTERM', onTerm);
    io.process.off('SIGHUP', onHup);
    io.process.off('uncaughtException', onFatal);
    io.process.off('unhandledRejection', onFatal);
  };

  try {
    await daemon.start();
  } catch (e) {
    unhook();
    io.err(`${prog}: ${errorText(e)}`);
    return 1;
  }
  io.onRunning?.(daemon);
  const code = await finished;
  await daemon.stop();
  unhook();
  return code;
}
