// One sealing pass in a process of its own, so its memory is the pass's alone:
//   node bench/seal-once.mjs <postgres url>  →  one JSON line on stdout
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
// maxRSS is in KiB.
console.log(JSON.stringify({ seconds, idleRssMiB, peakRssMiB: process.resourceUsage().maxRSS / 1024, batch }));
