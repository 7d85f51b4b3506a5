#!/usr/bin/env node
// Builds the shim6_native addon (native/binding.gyp) into native/build/Release/shim6_native.node.
//
// Uses npm's own node-gyp (the path npm gives scripts in npm_config_node_gyp, else the
// copy bundled with the npm next to this node) and always passes an explicit --nodedir
// computed from process.execPath, so node-gyp uses the local Node headers
// (<nodedir>/include/node, which include OpenSSL's) and never tries to download them:
// the build works offline. After building, it loads the addon once, so a missing
// symbol shows here rather than at run time, and checks that every export is there. Exits non-zero with a clear message on
// any failure.
//
// Usage: node native/build.mjs   (npm runs it as the package's install script)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const nativeDir = dirname(fileURLToPath(import.meta.url));
const addonPath = join(nativeDir, 'build', 'Release', 'shim6_native.node');
const nodeDir = resolve(dirname(process.execPath), '..');

function fail(message) {
  console.error(`native/build.mjs: ${message}`);
  console.error('native/build.mjs: the shim6_native addon was NOT built.');
  process.exit(1);
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(nodeDir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const candidate of candidates) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  try {
    // npm installed elsewhere (e.g. under a version manager): ask Node where npm's copy is.
    const npmRequire = createRequire(join(nodeDir, 'lib', 'node_modules', 'npm', 'package.json'));
    return npmRequire.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

const headers = join(nodeDir, 'include', 'node', 'node_api.h');
if (!existsSync(headers)) {
  fail(`Node headers not found at ${headers} (nodedir ${nodeDir}, from ${process.execPath}). ` +
    'Install the Node.js development headers that match this node binary.');
}
const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) {
  fail('node-gyp not found: neither $npm_config_node_gyp nor the node-gyp bundled with npm ' +
    `under ${nodeDir}/lib/node_modules/npm exists.`);
}

function run(step) {
  const args = [nodeGyp, step, `--nodedir=${nodeDir}`, '--release', '--loglevel=warn'];
  console.log(`native/build.mjs: node ${args.join(' ')}`);
  const result = spawnSync(process.execPath, args, {
    cwd: nativeDir,
    stdio: 'inherit',
    // Never reach for the network: the headers are local.
    env: { ...process.env, npm_config_offline: 'true' },
  });
  if (result.error) fail(`could not run node-gyp ${step}: ${result.error.message}`);
  if (result.status !== 0) {
    fail(`node-gyp ${step} failed (exit ${result.status ?? result.signal}). ` +
      'A C compiler, make and python3 are required (Debian: apt-get install build-essential python3).');
  }
}

// configure is quick and regenerates the Makefile; make then recompiles only what changed.
run('configure');
run('build');

if (!existsSync(addonPath)) fail(`node-gyp reported success but ${addonPath} is missing.`);
try {
  const addon = createRequire(import.meta.url)(addonPath);
  const functions = ['cgaSearchChunk', 'closeFd', 'tunOpen', 'tunRead', 'tunWrite', 'rawSenderOpen',
    'rawSend', 'rawReceiverOpen', 'rawReceive', 'pollStart', 'pollStop', 'tcpSegment', 'checksumComplete',
    'tcpCoalesce'];
  for (const name of functions) {
    if (typeof addon[name] !== 'function') throw new Error(`${name} is not exported`);
  }
  if (typeof addon.tunOffloads !== 'object' || addon.tunOffloads === null || typeof addon.tunOffloads.TSO6 !== 'number') {
    throw new Error('tunOffloads is not exported');
  }
  if (typeof addon.virtio !== 'object' || addon.virtio === null || addon.virtio.HDR_LEN !== 10) {
    throw new Error('virtio is not exported');
  }
} catch (error) {
  fail(`built ${addonPath} but it does not load: ${error instanceof Error ? error.message : String(error)}`);
}
console.log(`native/build.mjs: built ${addonPath}`);
