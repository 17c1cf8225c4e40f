// Chaff (X-Chaff): fake claims and uploads an app may send to hide real ones in its
// traffic. Each gets an answer shaped like a real one, and touches nothing.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClaimError, KeyClaimResponse } from '../../src/protocol/messages.js';
import { claimedPhone, issueCode, makeKeys, Phone, post, request } from '../helpers/app-client.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem({ METRIC_PROVIDER: 'prometheus', PROMETHEUS_PORT: '0' });
});
afterAll(() => system.stop());

/** Every sample line of /metrics, as "name{labels} value". */
async function metricLines(): Promise<string[]> {
  return (await request(system.metricsUrl!)).text.split('\n').filter((l) => l && !l.startsWith('#'));
}
const sample = (lines: string[], prefix: string) =>
  Number(
    lines
      .find((l) => l.startsWith(prefix))
      ?.split(' ')
      .pop() ?? 0,
  );

async function rowCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of [
    'encryption_keys',
    'diagnosis_keys',
    'failed_key_claim_attempts',
    'events',
    'events_log',
    'tek_upload_count',
    'tek_upload_log',
  ]) {
    counts[table] = (await system.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
  }
  return counts;
}

describe('X-Chaff', () => {
  it('answers claims and uploads like real ones, stores nothing, and counts only as chaff', async () => {
    const real = await new Phone().claim(system.submissionUrl, await issueCode(system.submissionUrl));
    const phone = await claimedPhone(system.submissionUrl);
    const realUpload = await phone.upload(system.submissionUrl, makeKeys(2, system.clock.now()), system.clock.now());
    const rowsBefore = await rowCounts();
    const before = await metricLines();

    const chaff = { 'x-chaff': '1', 'x-forwarded-for': '198.51.100.250' };
    const claim = await post(`${system.submissionUrl}/claim-key`, randomBytes(60), chaff);
    const upload = await post(`${system.submissionUrl}/upload`, randomBytes(300), chaff);

    expect([claim.status, claim.headers.get('content-type'), claim.bytes.length]).toEqual([
      real.status,
      real.headers.get('content-type'),
      real.bytes.length,
    ]);
    const decoded = KeyClaimResponse.decode(claim.bytes);
    expect(decoded.serverPublicKey).toHaveLength(32);
    expect(decoded.triesRemaining).toBe(50);
    expect(Object.hasOwn(decoded, 'error')).toBe(false);
    expect([upload.status, upload.headers.get('content-type'), upload.bytes.toString('hex')]).toEqual([
      realUpload.status,
      realUpload.headers.get('content-type'),
      realUpload.bytes.toString('hex'),
    ]);

    expect(await rowCounts()).toEqual(rowsBefore);
    const after = await metricLines();
    expect(sample(after, 'diagnosis_chaff_requests_total{route="/claim-key"}')).toBe(
      sample(before, 'diagnosis_chaff_requests_total{route="/claim-key"}') + 1,
    );
    expect(sample(after, 'diagnosis_chaff_requests_total{route="/upload"}')).toBe(
      sample(before, 'diagnosis_chaff_requests_total{route="/upload"}') + 1,
    );
    // Neither the request counters nor the business ones saw them.
    for (const prefix of [
      'http_server_requests_total{method="POST",route="/claim-key",status="200"}',
      'http_server_requests_total{method="POST",route="/upload",status="200"}',
      'diagnosis_uploads_total',
      'diagnosis_one_time_codes_claimed_total',
    ]) {
      expect(sample(after, prefix), prefix).toBe(sample(before, prefix));
    }
  });

  it('with ACCEPT_CHAFF=false, is ignored: the request is judged as a real one (the original)', async () => {
    const original = await startSystem({ ACCEPT_CHAFF: 'false' });
    try {
      const claim = await new Phone().claim(original.submissionUrl, 'AAAAAAAAAA', { 'x-chaff': '1' });
      expect([claim.status, claim.response.error]).toEqual([401, ClaimError.INVALID_ONE_TIME_CODE]);
      expect((await original.db.query('SELECT failures FROM failed_key_claim_attempts')).rows).toEqual([{ failures: 1 }]);
    } finally {
      await original.stop();
    }
  });
});
