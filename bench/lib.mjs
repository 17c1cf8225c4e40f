// Shared by the benchmarks: a real Postgres (DATABASE_URL, or a throwaway embedded one),
// the built command as a separate process, and percentiles.
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { pino } from 'pino';
import { freePort } from '../dist/clients/free-port.js';
import { keepAliveConnection, postRequest } from '../dist/clients/keep-alive.js';
import { inParallel } from '../dist/clients/in-parallel.js';
import { startEmbeddedPostgres, throwawayDataDir } from '../dist/db/embedded.js';

export { freePort };

/** The entry point operators run (package.json bin, the image): the bundle. */
export const CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../dist/bundle/cli.mjs');
/** The same bundle compiled at start, without the build's code cache. */
export const BUNDLE_WITHOUT_CACHE = path.resolve(path.dirname(new URL(import.meta.url).pathname), 'without-code-cache.mjs');
/** The same, as tsc writes it, unbundled: what the bundle is measured against. */
export const UNBUNDLED_CLI = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../dist/cli.js');
export const TOKEN = 'bench-portal-token-0123456789abcdef';

export async function startPostgres() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  const dataDir = await throwawayDataDir('diagnosis-bench-');
  const embedded = await startEmbeddedPostgres({ dataDir, port: await freePort(), log: pino({ level: 'silent' }), throwaway: true });
  return { url: embedded.url.replace(/\/diagnosis$/, `/bench_${Date.now()}`), stop: embedded.stop };
}

export function spawnRole(role, env, cli = CLI) {
  const child = spawn(process.execPath, [cli, role], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', KEY_CLAIM_TOKEN: `${TOKEN}=bench`, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited };
}

export async function waitForPing(base, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${base}/services/ping`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${base} did not answer`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
}

/** Keys for one submission hour, straight into the table (the triggers still run). */
export async function insertKeys(db, count, hourOfSubmission, nowMs) {
  const today = Math.floor(nowMs / 600_000 / 144) * 144;
  await db.query(
    `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
     SELECT decode(md5(random()::text || i), 'hex'), $2 - (i % 14) * 144, 144, 1, $3, '302', 'bench'
     FROM generate_series(1, $1) AS i`,
    [count, today, hourOfSubmission],
  );
}

/** Peak resident memory of a process so far, in MiB (Linux). */
export async function peakRssMiB(pid) {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** POST/GET over one keep-alive agent per benchmark, without fetch's per-request overhead. */
export function httpClient(concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const send = (port, method, path, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path, method, agent, headers: body ? { 'content-length': body.length, ...headers } : headers },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      // A server that stops answering fails the run rather than hanging it for ever.
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer from ${path} in ${REQUEST_TIMEOUT_MS / 1000} s`)));
      req.end(body);
    });
  return { send, close: () => agent.destroy() };
}

/** 0, 1, … n − 1: the job numbers of a run. */
export const indices = (n) => Array.from({ length: n }, (_, i) => i);

/** Throughput and latency of `count` calls of `task` at `concurrency`; a call that throws counts as failed. */
export async function measure(count, concurrency, task) {
  const latencies = [];
  let failed = 0;
  const start = performance.now();
  await inParallel(indices(count), concurrency, async (i) => {
    const t = performance.now();
    const ok = await task(i).catch(() => false);
    latencies.push(performance.now() - t);
    if (!ok) failed++;
  });
  const seconds = (performance.now() - start) / 1000;
  const s = summary(latencies);
  return { count, failed, seconds: round(seconds, 3), perSecond: round(count / seconds, 1), p50Ms: round(s.p50, 2), p99Ms: round(s.p99, 2) };
}

export const round = (n, digits) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Runs `work(port, client)` against a fresh `role` process on `DATABASE_URL`, and stops it after. */
export async function withServer(role, env, concurrency, work) {
  const port = await freePort();
  const server = spawnRole(role, { ...env, BIND_ADDR: `127.0.0.1:${port}` });
  const client = httpClient(concurrency);
  try {
    await waitForPing(`http://127.0.0.1:${port}`);
    return await work(port, client);
  } finally {
    client.close();
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

const BARE_ANSWER = `
const http = require('node:http');
const answer = Buffer.from(process.argv[1], 'hex');
http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': answer.length });
    res.end(answer);
  });
}).listen(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'));`;

/**
 * The load generator's ceiling for POSTs: a bare node:http process that reads each body and
 * answers `answer`, driven by `drive(port)` with the same client, bodies and concurrency as
 * the server. A server ratio means something only while this outruns the server.
 */
export async function bareAnswerCeiling(answer, drive) {
  const port = await freePort();
  const child = spawn(process.execPath, ['-e', BARE_ANSWER, answer.toString('hex'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await new Promise((resolve) => child.stdout.once('data', resolve));
    return await drive(port);
  } finally {
    child.kill();
    await exited;
  }
}

/**
 * POSTs every body to `path` on `port`, `concurrency` at a time, each answered 200 to count,
 * over connections of its own. node:http's client costs 65–115 µs of CPU a request on this
 * machine, more than the pg client costs the references a call (60–80 µs): on two shared
 * cores, that came out of the server's share. These connections cost 25–55 µs.
 * Connections of their own each time: between turns (takingTurns) the server closes idle
 * keep-alive connections, and a request sent on one would fail unread.
 * @param {number} port
 * @param {string} path
 * @param {Buffer[]} bodies
 * @param {number} concurrency
 * @param {(i: number) => Record<string, string>} [headersOf]
 */
export async function postAll(port, path, bodies, concurrency, headersOf = () => ({})) {
  const requests = bodies.map((body, i) => postRequest(port, path, body, headersOf(i)));
  const idle = Array.from({ length: concurrency }, () => keepAliveConnection(port, REQUEST_TIMEOUT_MS));
  const connections = [...idle];
  try {
    return await measure(requests.length, concurrency, async (i) => {
      const connection = /** @type {import('../dist/clients/keep-alive.js').KeepAliveConnection} */ (idle.pop());
      try {
        return (await connection.send(/** @type {Buffer} */ (requests[i]))) === 200;
      } finally {
        idle.push(connection);
      }
    });
  } finally {
    for (const connection of connections) connection.close();
  }
}

/**
 * Runs every target `rounds` times, taking turns in a rotating order, and reports the round
 * whose `ratio` is the median, each target as measured in it, with every round's rates.
 * Rounds are paired measurements: one after the other, a slow few seconds of a shared
 * machine fall on one target alone, and the database grows from round to round.
 * Before them every target runs once unmeasured, as round 0 (rounds are 1 … `rounds`, so a
 * target that takes fresh inputs each round needs `rounds + 1` sets): a first round had
 * the server compiling its request path while the references ran warm, and it was often
 * the lowest of a run (claims: 0.40, 1.23 and 0.84 of the bare claim).
 * @param {Record<string, (round: number) => Promise<any>>} targets
 * @param {number} rounds
 * @param {(round: Record<string, any>) => number} ratio
 * @returns {Promise<{ median: Record<string, any>; rounds: Record<string, number[]>; p50s: Record<string, number[]>; ratios: number[]; warmUp: Record<string, number> }>}
 */
export async function takingTurns(targets, rounds, ratio) {
  const names = Object.keys(targets);
  /** @type {Record<string, number>} */
  const warmUp = {};
  for (const name of names) warmUp[name] = (await /** @type {(round: number) => Promise<any>} */ (targets[name])(0)).perSecond;
  /** @type {Record<string, any>[]} */
  const measured = [];
  for (let turn = 0; turn < rounds; turn++) {
    /** @type {Record<string, any>} */
    const inRound = {};
    for (let i = 0; i < names.length; i++) {
      const name = /** @type {string} */ (names[(turn + i) % names.length]);
      inRound[name] = await targets[name]?.(turn + 1);
    }
    measured.push(inRound);
  }
  const byRatio = [...measured].sort((a, b) => ratio(a) - ratio(b));
  return {
    median: /** @type {Record<string, any>} */ (byRatio[Math.floor(byRatio.length / 2)]),
    rounds: Object.fromEntries(names.map((name) => [name, measured.map((m) => m[name].perSecond)])),
    p50s: Object.fromEntries(names.map((name) => [name, measured.map((m) => m[name].p50Ms)])),
    ratios: measured.map((m) => round(ratio(m), 2)),
    warmUp,
  };
}

/**
 * Runs `work` against the HTTP targets of the upload and claim benches: key-submission on
 * `postgresUrl`, the same server without group commit (COMMIT_GROUP_MAX=1), and the bare
 * node:http ceiling answering `answer` to every request (bareAnswerCeiling).
 * @template T
 * @param {string} postgresUrl
 * @param {number} concurrency
 * @param {Buffer} answer
 * @param {(targets: { port: number; client: ReturnType<typeof httpClient>; ungroupedPort: number; ceilingPort: number }) => Promise<T>} work
 * @returns {Promise<T>}
 */
export function withSubmissionTargets(postgresUrl, concurrency, answer, work) {
  return withServer('key-submission', { DATABASE_URL: postgresUrl }, concurrency, (port, client) =>
    withServer('key-submission', { DATABASE_URL: postgresUrl, COMMIT_GROUP_MAX: '1' }, concurrency, (ungroupedPort) =>
      bareAnswerCeiling(answer, (ceilingPort) => work({ port, client, ungroupedPort, ceilingPort })),
    ),
  );
}

/**
 * takingTurns for the upload and claim benches, whose targets are `server`, `ungrouped`,
 * `generator`, `reference` and `bare`: the round with the median ratio to the bare statement,
 * every target as measured in it, and the server's ratios to its references.
 * @param {Record<string, (round: number) => Promise<any>>} targets
 * @param {number} rounds
 * @returns {Promise<Record<string, any> & { ratio: number; ratioToBare: number; ratioToUngrouped: number; rounds: Record<string, number[]>; p50s: Record<string, number[]>; ratios: number[]; warmUp: Record<string, number> }>}
 */
export async function submissionTurns(targets, rounds) {
  const turns = await takingTurns(targets, rounds, (r) => r.server.perSecond / r.bare.perSecond);
  const { server, ungrouped, reference, bare } = turns.median;
  return {
    ...turns.median,
    ratio: round(server.perSecond / reference.perSecond, 2),
    ratioToBare: round(server.perSecond / bare.perSecond, 2),
    ratioToUngrouped: round(server.perSecond / ungrouped.perSecond, 2),
    rounds: turns.rounds,
    p50s: turns.p50s,
    ratios: turns.ratios,
    warmUp: turns.warmUp,
  };
}
