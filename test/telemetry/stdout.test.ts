// METRIC_PROVIDER and TRACER_PROVIDER printing to stdout, from the built command.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshDatabaseUrl } from '../helpers/database.js';
import { freePort } from '../../src/clients/free-port.js';
import { Phone } from '../helpers/app-client.js';
import { PORTAL_TOKEN } from '../helpers/servers.js';

const CLI = path.resolve('dist/bundle/cli.mjs');

/** Runs key-submission with `env` until `enough(output)`, driving it with `drive`; answers its stdout (or stderr). */
async function runSubmission(
  env: Record<string, string>,
  drive: (base: string) => Promise<void>,
  enough: (out: string) => boolean,
  stream: 'stdout' | 'stderr' = 'stdout',
): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'key-submission'], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: freshDatabaseUrl(),
      KEY_CLAIM_TOKEN: `${PORTAL_TOKEN}=portal`,
      BIND_ADDR: `127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child[stream].on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      const up = await fetch(`${base}/services/ping`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      if (i > 600) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    await drive(base);
    for (let i = 0; !enough(out); i++) {
      if (i > 200) throw new Error(`stdout never had what the test waits for:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return out;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const issue = (base: string, path = '/new-key-claim') => fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${PORTAL_TOKEN}` } });

describe('METRIC_PROVIDER=stdout and pretty', () => {
  it('prints one JSON line per export with the counters', async () => {
    const out = await runSubmission(
      { METRIC_PROVIDER: 'stdout', METRIC_EXPORT_INTERVAL_SECONDS: '1' },
      async (base) => {
        expect((await issue(base)).status).toBe(200);
      },
      (o) => o.includes('diagnosis_one_time_codes_generated_total'),
    );
    const exports = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const last = exports.at(-1);
    expect(Date.parse(last.time)).toBeGreaterThan(0);
    const generated = last.metrics.find((m: { name: string }) => m.name === 'diagnosis_one_time_codes_generated_total');
    expect(generated.points).toEqual([{ attributes: { originator: 'portal', region: '302' }, value: 1 }]);
  });

  it('prints indented JSON with pretty', async () => {
    const out = await runSubmission(
      { METRIC_PROVIDER: 'pretty', METRIC_EXPORT_INTERVAL_SECONDS: '1' },
      async () => {},
      (o) => /\n}\n/.test(o),
    );
    const first = out.slice(0, out.indexOf('\n}\n') + 2);
    expect(first.split('\n').length).toBeGreaterThan(3);
    expect(JSON.parse(first).metrics.length).toBeGreaterThan(0);
  });
});

describe('TRACER_PROVIDER=stdout', () => {
  it('prints a span per request and per query, queries under their request, and no secret', async () => {
    const hashId = 'h'.repeat(128);
    let code = '';
    const out = await runSubmission(
      { TRACER_PROVIDER: 'stdout' },
      async (base) => {
        code = (await (await issue(base, `/new-key-claim/${hashId}`)).text()).trim();
        expect((await new Phone().claim(base, code, { 'x-forwarded-for': '198.51.100.77' })).status).toBe(200);
      },
      (o) => o.includes('"/claim-key"'),
    );
    const spans = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const claim = spans.find((s) => s.name === 'POST /claim-key');
    expect(claim.attributes).toEqual({ 'http.request.method': 'POST', 'http.route': '/claim-key', 'http.response.status_code': 200 });
    // The ban read, then the claim call, each the request's share of a commit group, with
    // the group's query under it (alone, the request heads its own group).
    const groups = spans.filter((s) => s.parentSpanId === claim.spanId);
    expect(groups.map((g) => g.name)).toEqual(['commit group claim_ban_read', 'commit group claim']);
    for (const g of groups) expect(g.attributes).toEqual({ 'diagnosis.commit_group.size': 1 });
    const queries = spans.filter((s) => groups.some((g) => s.parentSpanId === g.spanId));
    expect(queries.length).toBe(2);
    for (const q of queries) {
      expect(q.name).toMatch(/^db [A-Z]+$/);
      expect(q.traceId).toBe(claim.traceId);
      expect(q.attributes['db.system.name']).toBe('postgresql');
    }
    expect(queries.some((q) => q.attributes['db.query.text'].includes('FROM claim_one_time_codes('))).toBe(true);
    for (const secret of [PORTAL_TOKEN, code, hashId, '198.51.100.77', '127.0.0.1']) expect(out).not.toContain(secret);
  });
});

describe('TRACER_PROVIDER=stdout under concurrent claims', () => {
  it("gives every claim its share of a commit group, and each group's query once, under the request it carried first", async () => {
    const claims = 24;
    // One group at a time, so that claims arriving while it runs share the next.
    const out = await runSubmission(
      { TRACER_PROVIDER: 'stdout', COMMIT_GROUPS_IN_FLIGHT: '1' },
      async (base) => {
        const codes = await Promise.all(Array.from({ length: claims }, async () => (await (await issue(base)).text()).trim()));
        const answers = await Promise.all(codes.map((code, i) => new Phone().claim(base, code, { 'x-forwarded-for': `198.51.100.${i + 1}` })));
        expect(answers.map((a) => a.status)).toEqual(codes.map(() => 200));
      },
      (o) => o.split('"POST /claim-key"').length - 1 === claims,
    );
    const spans = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const requests = spans.filter((s) => s.name === 'POST /claim-key');
    const shares = spans.filter((s) => s.name === 'commit group claim');
    expect(shares.map((s) => requests.some((r) => r.spanId === s.parentSpanId))).toEqual(requests.map(() => true));
    const calls = spans.filter((s) => s.attributes['db.query.text']?.includes('FROM claim_one_time_codes('));
    // Each call hangs under one request's share; the sizes of the groups add up to the claims.
    const carriers = calls.map((c) => shares.find((s) => s.spanId === c.parentSpanId));
    expect(carriers.every((c) => c !== undefined)).toBe(true);
    const sizes = carriers.map((c) => c.attributes['diagnosis.commit_group.size'] as number);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(claims);
    expect(calls.length).toBeLessThan(claims);
  });
});

describe('logs', () => {
  it('writes one JSON line per request to stderr, with route, status and duration, and no secret', async () => {
    let code = '';
    const err = await runSubmission(
      { LOG_LEVEL: 'info' },
      async (base) => {
        code = (await (await issue(base)).text()).trim();
        await new Phone().claim(base, code, { 'x-forwarded-for': '198.51.100.78', authorization: `Bearer ${PORTAL_TOKEN}` });
      },
      (o) => o.includes('"/claim-key"'),
      'stderr',
    );
    const lines = err
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests.find((l) => l.route === '/claim-key')).toMatchObject({ method: 'POST', status: 200, ms: expect.any(Number), level: 30 });
    expect(requests.find((l) => l.route === '/new-key-claim')).toMatchObject({ status: 200 });
    // (The server's own listening address is logged at start; a client's address never is.)
    for (const secret of [PORTAL_TOKEN, code, '198.51.100.78']) expect(err).not.toContain(secret);
    expect(requests.every((l) => !('remoteAddress' in l) && !('req' in l))).toBe(true);
  });
});
