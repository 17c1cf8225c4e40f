// One sealing pass in a process of its own, so its memory is the pass's alone:
//   node bench/seal-once.mjs <postgres url>  →  one JSON line on stdout
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { pino } from 'pino';
import { parseEnvironment, releaseSettings } from '../dist/config.js';
import { sealDueBatch } from '../dist/release/seal.js';

const pool = new pg.Pool({ connectionString: process.argv[2], max: 2 });
await pool.query('SELECT 1');
const idleRssMiB = process.memoryUsage().rss / 2 ** 20;
const started = performance.now();
const batch = await sealDueBatch(pool, releaseSettings(parseEnvironment({})), { now: () => Date.now() }, pino({ level: 'silent' }));
const seconds = (performance.now() - started) / 1000;
await pool.end();
// VmHWM, not getrusage's maxRSS: Linux carries the spawning process's peak across exec into
// maxRSS, so after the big benchmarks it showed the benchmark runner's memory, not this one's.
const status = readFileSync('/proc/self/status', 'utf8');
const peakRssMiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
console.log(JSON.stringify({ seconds, idleRssMiB, peakRssMiB, batch }));
