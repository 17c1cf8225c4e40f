// The benchmark suite at tiny sizes: it runs end to end and writes what it promises.
// Its numbers mean nothing at this size; `npm run bench` gives the real ones.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempFolder } from '../helpers/temp-folder.js';
import { inject } from 'vitest';

describe('npm run bench (smoke)', () => {
  it('runs every benchmark with its reference and writes results and a table', async () => {
    const out = await tempFolder('bench-smoke-');
    const child = spawn(process.execPath, ['bench/run.mjs', '--smoke', '--out', out], {
      // On the test run's Postgres, in databases of its own.
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: inject('postgresUrl').replace(/\/[^/]*$/, `/bench_smoke_${process.pid}`) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code, output).toBe(0);

    for (const name of ['upload', 'upload-1', 'claim']) {
      const result = JSON.parse(await readFile(path.join(out, `${name}.json`), 'utf8'));
      // The p50 pair is judged over every round, each round's ratio of its own two p50s.
      if (name !== 'claim') {
        expect(result.p50Ratios).toHaveLength(5);
        result.p50Ratios.forEach((r: number, i: number) => expect(r).toBeCloseTo(result.p50s.server[i] / result.p50s.ungrouped[i], 1));
        expect(result.p50ToUngrouped).toBe([...result.p50Ratios].sort((a: number, b: number) => a - b)[2]);
      }
      // The same server with group commit off, the bare statement, and the client's ceiling, all measured.
      expect(result.ungrouped.perSecond).toBeGreaterThan(0);
      expect(result.ungrouped.failed).toBe(0);
      expect(result.bare.failed).toBe(0);
      expect(result.generator.perSecond).toBeGreaterThan(0);
      expect(result.generator.failed).toBe(0);
    }
    for (const name of ['upload', 'claim', 'retrieve-cached']) {
      const result = JSON.parse(await readFile(path.join(out, `${name}.json`), 'utf8'));
      expect(result.machine.node).toBe(process.version);
      expect(result.server.perSecond).toBeGreaterThan(0);
      expect(result.server.failed).toBe(0);
      expect(result.reference.perSecond).toBeGreaterThan(0);
      expect(result.reference.failed).toBe(0);
      expect(result.ratio).toBeCloseTo(result.server.perSecond / result.reference.perSecond, 1);
      expect(typeof result.met).toBe('boolean');
    }
    // The server and its references take turns after a warm-up turn each; the round with the
    // median ratio is reported.
    for (const name of ['upload', 'claim', 'retrieve-cached']) {
      const result = JSON.parse(await readFile(path.join(out, `${name}.json`), 'utf8'));
      const reference = name === 'retrieve-cached' ? 'reference' : 'bare';
      expect(result.warmUp.server).toBeGreaterThan(0);
      expect(result.warmUp[reference]).toBeGreaterThan(0);
      expect(result.rounds.server).toHaveLength(5);
      expect(result.ratios).toHaveLength(5);
      const median = [...result.ratios].sort((a: number, b: number) => a - b)[2];
      const rounds = [0, 1, 2, 3, 4].filter((i) => result.ratios[i] === median);
      const reported = (i: number) =>
        result.server.perSecond === result.rounds.server[i] && result[reference].perSecond === result.rounds[reference][i];
      expect(rounds.some(reported)).toBe(true);
    }
    const build = JSON.parse(await readFile(path.join(out, 'export-build.json'), 'utf8'));
    expect(build.rows[0]).toMatchObject({ keys: 500 });
    expect(build.rows[0].peakRssMiB).toBeGreaterThan(0);
    const cold = JSON.parse(await readFile(path.join(out, 'cold-start.json'), 'utf8'));
    expect(Object.keys(cold.roles)).toEqual(['key-submission', 'key-retrieval', 'all']);
    expect(Object.keys(cold.withoutCache)).toEqual(['key-submission', 'key-retrieval']);
    const table = await readFile(path.join(out, 'BENCHMARKS.md'), 'utf8');
    for (const name of ['upload', 'claim', 'retrieve-cached', 'export-build', 'cold-start']) expect(table).toContain(`| ${name} |`);
  }, 120_000);
});
