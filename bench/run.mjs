// npm run bench: every benchmark against real servers on Postgres (embedded unless
// DATABASE_URL is set), each with its reference measured in the same run, because these
// machines are shared and absolute numbers drift. A full run writes bench/results/<name>.json
// and the table in BENCHMARKS.md; any other (--only, --smoke, --out) writes both into DIR,
// a fresh folder under the system's temporary one unless given, so that the committed
// table and results always come from one whole run.
//   node bench/run.mjs [--smoke] [--only name,name] [--out DIR]
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { benchClaim } from './claim.mjs';
import { benchColdStart } from './cold-start.mjs';
import { benchExportBuild } from './export-build.mjs';
import { spawnRole, startPostgres } from './lib.mjs';
import { benchRetrieveCached } from './retrieve-cached.mjs';
import { benchSeal } from './seal.mjs';
import { benchUpload } from './upload.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, only: { type: 'string' }, out: { type: 'string' } } });
const smoke = values.smoke;
const fullRun = !smoke && !values.only && !values.out;
const outDir = fullRun ? path.join(here, 'results') : (values.out ?? (await mkdtemp(path.join(os.tmpdir(), 'diagnosis-bench-'))));

// Cold start first: the others leave Postgres busy (autovacuum after the big builds).
const BENCHMARKS = {
  'cold-start': (url) => benchColdStart(url, smoke ? { runs: 1 } : {}),
  upload: (url) => benchUpload(url, smoke ? { uploads: 30, concurrency: 8 } : {}),
  'upload-32': (url) => benchUpload(url, smoke ? { uploads: 30, concurrency: 4 } : { concurrency: 32 }),
  'upload-1': (url) => benchUpload(url, smoke ? { uploads: 10, concurrency: 1 } : { uploads: 600, concurrency: 1 }),
  claim: (url) => benchClaim(url, smoke ? { claims: 30, concurrency: 8 } : {}),
  'retrieve-cached': (url) => benchRetrieveCached(url, smoke ? { keys: 100, requests: 50, concurrency: 4, seconds: 1 } : {}),
  'retrieve-cached-64': (url) => benchRetrieveCached(url, smoke ? { keys: 100, requests: 50, concurrency: 4, useWrk: false } : { concurrency: 64 }),
  'export-build': (url) => benchExportBuild(url, smoke ? { sizes: [500] } : {}),
  seal: (url) => benchSeal(url, smoke ? { sizes: [50] } : {}),
};

/** Each benchmark's target, from the issue that set them. */
function verdict(name, r) {
  switch (name) {
    case 'upload':
      // At 64 phones, group commit: more than one commit per upload can do.
      return {
        target: '≥ 1.3× the bare insert (group commit), p99 ≤ 2× its, with the client outrunning the server on bare node',
        met: r.ratioToBare >= 1.3 && r.server.p99Ms <= 2 * r.bare.p99Ms && r.generator.perSecond > r.server.perSecond && r.server.failed === 0,
      };
    case 'upload-32':
      return {
        target: '≥ 0.9× the bare insert, p99 ≤ 2× its, with the client outrunning the server on bare node',
        met: r.ratioToBare >= 0.9 && r.server.p99Ms <= 2 * r.bare.p99Ms && r.generator.perSecond > r.server.perSecond && r.server.failed === 0,
      };
    case 'upload-1':
      // A lone upload must not wait for company.
      return { target: 'p50 ≤ 1.1× the server without group commit', met: r.p50ToUngrouped <= 1.1 && r.server.failed === 0 };
    case 'claim':
      return {
        target: '≥ 0.9× the bare claim, with the client outrunning the server on bare node',
        met: r.ratioToBare >= 0.9 && r.generator.perSecond > r.server.perSecond && r.server.failed === 0,
      };
    case 'retrieve-cached':
    case 'retrieve-cached-64':
      // Only a load generator that drives nginx faster than the server measures the server.
      return {
        target: '≥ 0.85× bare node:http and ≥ 0.6× nginx, with wrk outrunning the server on nginx',
        met: r.generator === 'wrk' && r.ratio >= 0.85 && r.ratioToNginx >= 0.6 && r.nginx.perSecond > r.server.perSecond,
      };
    case 'export-build':
      return {
        target: 'time ≤ 3× reference; peak RSS ≤ 4× export.bin + 100 MB',
        met: r.rows.every((row) => row.timeRatio <= 3 && row.peakRssMiB <= row.rssLimitMiB),
      };
    case 'cold-start':
      return { target: 'p50 ≤ 250 ms for both servers', met: ['key-submission', 'key-retrieval'].every((role) => r.roles[role].p50Ms <= 250) };
    case 'seal':
      // A pass runs every 30 s; an hour's batch must seal well inside one.
      return { target: '50,000 keys in ≤ 5 s; peak RSS ≤ 200 MB', met: r.rows.every((row) => row.sealSeconds <= 5 && row.peakRssMiB <= 200) };
    default:
      throw new Error(`no target for benchmark ${name}`);
  }
}

function describe(name, r) {
  const rate = (x) => `${x.perSecond}/s, p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms${x.failed ? `, **${x.failed} failed**` : ''}`;
  // Every round's ratio, so that the spread the reported median came from is in the table.
  const turns = (x) => `the median of ${x.ratios.length} rounds after a warm-up, whose ratios were ${x.ratios.join(', ')}`;
  switch (name) {
    case 'upload':
    case 'upload-32':
    case 'upload-1':
      return [
        `${rate(r.server)} (${r.server.keysPerSecond} keys/s; ${r.concurrency} phones; ${turns(r)})`,
        `bare insert: ${rate(r.bare)}<br>its own db work: ${rate(r.reference)}<br>without group commit: ${rate(r.ungrouped)}<br>client's ceiling, bare node:http: ${rate(r.generator)}`,
        `${r.ratioToBare}<br>${r.ratio}<br>${r.ratioToUngrouped} (p50 ${r.p50ToUngrouped}×, the median of ${r.p50Ratios.join(', ')})`,
      ];
    case 'claim':
      return [
        `${rate(r.server)} (an address each; ${turns(r)})`,
        `bare claim: ${rate(r.bare)}<br>its own db work: ${rate(r.reference)}<br>without group commit: ${rate(r.ungrouped)}<br>client's ceiling, bare node:http: ${rate(r.generator)}`,
        `${r.ratioToBare}<br>${r.ratio}<br>${r.ratioToUngrouped}`,
      ];
    case 'retrieve-cached':
    case 'retrieve-cached-64':
      return [
        `${rate(r.server)} (${r.keys} keys, ${(r.bytes / 1024).toFixed(0)} KiB; ${r.concurrency} connections, ${r.generator}; ${turns(r)})`,
        `bare node:http: ${rate(r.reference)}${r.nginx ? `<br>nginx: ${rate(r.nginx)}` : ''}`,
        `${r.ratio}${r.nginx ? `<br>${r.ratioToNginx}` : ''}`,
      ];
    case 'export-build':
      return [
        r.rows
          .map(
            (x) =>
              `${x.keys.toLocaleString('en')} keys: ${x.buildSeconds} s, peak RSS ${x.peakRssMiB} MiB (idle ${x.idleRssMiB}; limit ${x.rssLimitMiB}), file ${x.fileMiB} MiB`,
          )
          .join('<br>'),
        r.rows.map((x) => `${x.referenceSeconds} s`).join('<br>'),
        r.rows.map((x) => `${x.timeRatio}×`).join('<br>'),
      ];
    case 'seal':
      return [
        r.rows
          .map(
            (x) =>
              `${x.keys.toLocaleString('en')} keys (+${x.paddingKeys} padding): ${x.sealSeconds} s, peak RSS ${x.peakRssMiB} MiB (idle ${x.idleRssMiB})`,
          )
          .join('<br>'),
        r.rows.map((x) => `${x.referenceSeconds} s`).join('<br>'),
        r.rows.map((x) => `${x.timeRatio}×`).join('<br>'),
      ];
    case 'cold-start':
      return [
        Object.entries(r.roles)
          .map(([role, t]) => `${role}: p50 ${t.p50Ms} ms (max ${t.maxMs})`)
          .join('<br>'),
        [
          `node -e '': p50 ${r.reference.p50Ms} ms`,
          ...Object.entries(r.withoutCache).map(([role, t]) => `${role}, bundle without its code cache: p50 ${t.p50Ms} ms`),
          ...Object.entries(r.unbundled).map(([role, t]) => `${role} from dist/cli.js: p50 ${t.p50Ms} ms`),
        ].join('<br>'),
        '–',
      ];
    default:
      throw new Error(`no description for benchmark ${name}`);
  }
}

const names = values.only ? values.only.split(',') : Object.keys(BENCHMARKS);
const postgres = await startPostgres();
const results = {};
try {
  const db = new pg.Client({ connectionString: postgres.url.replace(/\/[^/]+$/, '/postgres') });
  await db.connect();
  const postgresVersion = (await db.query('SHOW server_version')).rows[0].server_version;
  await db.end();
  const machine = {
    date: new Date().toISOString(),
    cpu: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: postgresVersion,
    smoke,
  };
  await mkdir(outDir, { recursive: true });
  for (const name of names) {
    process.stderr.write(`bench: ${name}…\n`);
    // Each benchmark on a database of its own.
    const url = postgres.url.replace(/\/([^/]+)$/, `/$1_${name.replace('-', '_')}`);
    if ((await spawnRole('migrate', { DATABASE_URL: url }).exited) !== 0) throw new Error('migrate failed');
    const result = await BENCHMARKS[name](url);
    results[name] = { ...result, ...verdict(name, result) };
    await writeFile(path.join(outDir, `${name}.json`), JSON.stringify({ machine, ...results[name] }, null, 2) + '\n');
    console.log(`${name}: ${describe(name, result).join(' | ')} → ${results[name].met ? 'met' : 'MISSED'} (${results[name].target})`);
  }

  const table = [
    '| benchmark | this server | reference, same run | ratio | target | met |',
    '|---|---|---|---|---|---|',
    ...names.map(
      (name) => `| ${name} | ${describe(name, results[name]).join(' | ')} | ${results[name].target} | ${results[name].met ? 'yes' : '**no**'} |`,
    ),
  ].join('\n');
  const header = `Machine: ${machine.cpu}, ${machine.memoryGiB} GiB; Node ${machine.node}; PostgreSQL ${machine.postgres}; ${machine.date.slice(0, 10)}.`;
  const markdownFile = fullRun ? path.join(here, '..', 'BENCHMARKS.md') : path.join(outDir, 'BENCHMARKS.md');
  let markdown = await readFile(path.join(here, '..', 'BENCHMARKS.md'), 'utf8').catch(() => '<!-- results -->\n<!-- /results -->\n');
  markdown = markdown.replace(/<!-- results -->[\s\S]*<!-- \/results -->/, `<!-- results -->\n${header}\n\n${table}\n<!-- /results -->`);
  await writeFile(markdownFile, markdown);
  if (!fullRun) process.stderr.write(`bench: results and table in ${outDir}\n`);
} finally {
  await postgres.stop();
}
