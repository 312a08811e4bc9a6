// Dev-only comparison: how many DCAP quote verifications per second Phala's
// dcap-qvl does (pure JS, and the Rust core compiled to WebAssembly) next to
// mero-tee's `bench verify`.  Not a test; nothing depends on it.
//
// Usage: node bench.mjs [--seconds N] [--quote FILE] [--collateral FILE] [--now EPOCH]
//        [--cli PATH]
// Defaults: vector D2 of ../shared/vectors/dcap (TDX, UpToDate at 1752919234).

import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const vectors = process.env.MT_SHARED
  ? join(process.env.MT_SHARED, 'vectors', 'dcap')
  : resolve(repo, '..', 'shared', 'vectors', 'dcap');

const opts = {
  seconds: 3,
  quote: join(vectors, 'D2_tdx_quote.bin'),
  collateral: join(vectors, 'D2_tdx_quote_collateral.json'),
  now: 1752919234,
  cli: join(repo, 'build', 'mero-tee'),
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '');
  if (!(key in opts) || argv[i + 1] === undefined) {
    console.error(`usage: node bench.mjs [--seconds N] [--quote FILE] [--collateral FILE] [--now EPOCH] [--cli PATH]`);
    process.exit(2);
  }
  opts[key] = typeof opts[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
}

for (const f of [opts.quote, opts.collateral]) {
  if (!existsSync(f)) {
    console.error(`bench: ${f} not found (is ../shared beside the checkout?)`);
    process.exit(1);
  }
}
const quote = new Uint8Array(readFileSync(opts.quote));
const collateralText = readFileSync(opts.collateral, 'utf8');
const collateral = JSON.parse(collateralText);

// Time the first call on its own (it includes JIT and lazy set-up), then run
// fn repeatedly for `seconds`.  dcap-qvl keeps no state between calls, so
// every call is a full verification from scratch ("uncached").
function measure(name, fn) {
  const t0 = performance.now();
  const first = fn();
  const firstUs = (performance.now() - t0) * 1000;
  let n = 0;
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  let now = start;
  while (now < end) {
    fn();
    n++;
    now = performance.now();
  }
  const uncachedUs = ((now - start) * 1000) / n;
  return { name, status: statusOf(first), firstUs, uncachedUs, n };
}

function statusOf(r) {
  if (r === undefined || r === null) return '?';
  if (r instanceof Map) return r.get('status') ?? '?';
  return r.status ?? '?';
}

const rows = [];

// 1. @phala/dcap-qvl: CommonJS, verify(rawQuote, collateral, nowSecs).
try {
  const require = createRequire(import.meta.url);
  const qvl = require('@phala/dcap-qvl');
  const coll = JSON.parse(collateralText); // its own copy: the library may keep references
  rows.push(measure('@phala/dcap-qvl (JS)', () => qvl.verify(Buffer.from(quote), coll, opts.now)));
} catch (e) {
  rows.push({ name: '@phala/dcap-qvl (JS)', error: String(e && e.message ? e.message : e) });
}

// 2. @phala/dcap-qvl-web: wasm-bindgen ES module; in node the .wasm is read
// from disk and given to initSync (its default init would fetch() a URL).
try {
  const web = await import('@phala/dcap-qvl-web');
  const require = createRequire(import.meta.url);
  const wasmPath = join(dirname(require.resolve('@phala/dcap-qvl-web')), 'dcap-qvl-web_bg.wasm');
  web.initSync({ module: readFileSync(wasmPath) });
  const now = BigInt(opts.now);
  rows.push(measure('@phala/dcap-qvl-web (WASM)', () => web.js_verify(quote, collateral, now)));
} catch (e) {
  rows.push({ name: '@phala/dcap-qvl-web (WASM)', error: String(e && e.message ? e.message : e) });
}

// 3. mero-tee bench verify, when the CLI has been built (scripts/test.sh).
const ours = { name: 'mero-tee (C, OpenSSL)' };
if (!existsSync(opts.cli)) {
  ours.error = `${opts.cli} not built (run scripts/test.sh)`;
} else {
  try {
    const out = execFileSync(opts.cli, ['bench', 'verify', '--quote', opts.quote,
      '--collateral', opts.collateral, '--now', String(opts.now), '--seconds', String(opts.seconds)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: (opts.seconds + 60) * 1000 });
    const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    const j = JSON.parse(line);
    // cold_us: a fresh verifier per verification (nothing cached), the
    // counterpart of dcap-qvl's calls; warm_us: one long-lived verifier.
    ours.uncachedUs = Number(j.cold_us);
    ours.cachedUs = Number(j.warm_us);
    ours.status = j.status ?? 'ok (exit 0)';
    ours.raw = line;
    if (!(ours.uncachedUs > 0) || !(ours.cachedUs > 0)) throw new Error(`no cold_us/warm_us in: ${line}`);
  } catch (e) {
    const msg = (e && e.stderr ? String(e.stderr).trim().split('\n').pop() : '') ||
      String(e && e.message ? e.message : e);
    ours.error = `bench verify unavailable: ${msg}`;
  }
}
rows.push(ours);

const fmt = (x, d = 0) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
const rate = (us) => (us === undefined || !(us > 0) ? '-' : fmt(1e6 / us));
console.log(`quote ${opts.quote}\ncollateral ${opts.collateral}\nnow ${opts.now}, ~${opts.seconds} s per implementation, node ${process.version}\n`);
const head = ['implementation', 'status', 'first call us', 'uncached us', 'uncached /s', 'cached us', 'cached /s', 'note'];
const table = rows.map((r) => r.error
  ? [r.name, 'n/a', '-', '-', '-', '-', '-', r.error]
  : [r.name, r.status, fmt(r.firstUs), fmt(r.uncachedUs, 1), rate(r.uncachedUs),
    fmt(r.cachedUs, 1), rate(r.cachedUs), r.n === undefined ? '' : `${r.n} calls`]);
const last = head.length - 1;
const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => (i === last ? 0 : t[i].length))));
const pr = (cols) => console.log(cols.map((c, i) => (i <= 1 || i === last ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd());
pr(head);
pr(widths.map((w) => '-'.repeat(w)));
table.forEach(pr);
console.log(`
uncached: one full verification from scratch per call (dcap-qvl's only mode;
          mero-tee's cold_us, a fresh verifier each time).
cached:   mero-tee's warm_us, one long-lived verifier as the KMS keeps.
/s = 1e6 / us.`);
if (ours.raw) console.log(`mero-tee said: ${ours.raw}`);
