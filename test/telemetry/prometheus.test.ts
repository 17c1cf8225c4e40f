// /metrics scraped over HTTP after real requests: every counter moves by what was done.
import { connect } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimedPhone, issueCode, makeKeys, newKeyClaim, Phone, sendUpload } from '../helpers/app-client.js';
import { retrieve } from '../helpers/phone-download.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';
import { delta, scrape as scrapeMetrics } from '../helpers/metrics.js';
import { EncryptedUploadRequest } from '../../src/protocol/messages.js';
import { randomBytes } from 'node:crypto';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem({ METRIC_PROVIDER: 'prometheus', PROMETHEUS_PORT: '0', MAX_CONSECUTIVE_CLAIM_KEY_FAILURES: '3' });
});
afterAll(() => system.stop());

const scrape = (url = system.metricsUrl!) => scrapeMetrics(url);

describe('METRIC_PROVIDER=prometheus', () => {
  it('counts codes, claims, failures, bans, uploads, rejections and requests', async () => {
    const before = await scrape();
    const hashId = 'q'.repeat(128);
    await issueCode(system.submissionUrl, { hashId });
    const code = await issueCode(system.submissionUrl, { hashId });
    const phone = new Phone();
    expect((await phone.claim(system.submissionUrl, code)).status).toBe(200);
    const client = { 'x-forwarded-for': '203.0.113.9' };
    for (let i = 0; i < 3; i++) expect((await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', client)).status).toBe(401);
    expect((await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', client)).status).toBe(429);

    const now = system.clock.now();
    const keys = makeKeys(5, now);
    expect((await phone.upload(system.submissionUrl, keys, now)).status).toBe(200);
    expect((await phone.upload(system.submissionUrl, [...keys, ...makeKeys(2, now)], now)).status).toBe(200);
    const sealed = EncryptedUploadRequest.decode(phone.seal(makeKeys(1, now), now / 1000));
    const tampered = EncryptedUploadRequest.encode({ ...sealed, payload: randomBytes(sealed.payload.length) }).finish();
    expect((await sendUpload(system.submissionUrl, tampered)).status).toBe(400);
    expect((await newKeyClaim(system.submissionUrl, { token: 'not-a-valid-token-at-all' })).status).toBe(401);

    const after = await scrape();
    const d = (key: string) => delta(before, after, key);
    expect(d('diagnosis_one_time_codes_generated_total{originator="portal-one",region="302"}')).toBe(2);
    expect(d('diagnosis_one_time_codes_regenerated_total{originator="portal-one",region="302"}')).toBe(1);
    expect(d('diagnosis_one_time_codes_claimed_total{originator="portal-one",region="302"}')).toBe(1);
    expect(d('diagnosis_claim_failures_total')).toBe(3);
    expect(d('diagnosis_claim_bans_total')).toBe(1);
    expect(d('diagnosis_claim_banned_requests_total')).toBe(1);
    expect(d('diagnosis_uploads_total{region="302"}')).toBe(2);
    expect(d('diagnosis_upload_keys_accepted_total{region="302"}')).toBe(7);
    expect(d('diagnosis_upload_keys_duplicate_total{region="302"}')).toBe(5);
    expect(d('diagnosis_upload_rejections_total{error="DECRYPTION_FAILED",rule="protocol"}')).toBe(1);
    expect(d('http_server_requests_total{method="POST",route="/claim-key",status="401"}')).toBe(3);
    expect(d('http_server_requests_total{method="POST",route="/claim-key",status="429"}')).toBe(1);
    expect(d('http_server_requests_total{method="POST",route="/new-key-claim/:hashID",status="200"}')).toBe(2);
    expect(d('http_server_requests_total{method="POST",route="/new-key-claim",status="401"}')).toBe(1);
    expect(d('http_server_request_duration_seconds_count{method="POST",route="/upload",status="200"}')).toBe(2);
    expect(after.get('http_server_request_duration_seconds_sum{method="POST",route="/upload",status="200"}')).toBeGreaterThan(0);
    expect(after.get('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(after.get('process_resident_memory_bytes')).toBeGreaterThan(10_000_000);
  });

  it('counts export builds only on cache misses, with keys and bytes', async () => {
    const day = Math.floor(system.clock.now() / 86_400_000) - 1;
    const before = await scrape();
    expect((await retrieve(system.retrievalUrl, day, system.clock.now())).status).toBe(200);
    const file = await retrieve(system.retrievalUrl, day, system.clock.now());
    const after = await scrape();
    expect(delta(before, after, 'diagnosis_export_builds_total')).toBe(1);
    expect(delta(before, after, 'diagnosis_export_build_duration_seconds_count')).toBe(1);
    expect(delta(before, after, 'diagnosis_export_size_bytes_sum')).toBe(file.bytes.length);
    expect(delta(before, after, 'diagnosis_export_keys_count')).toBe(1);
    expect(delta(before, after, 'http_server_requests_total{method="GET",route="/retrieve/:region/:day/*",status="200"}')).toBe(2);
  });

  it("counts the purge loop's deletions by kind", async () => {
    const purging = await startSystem({ METRIC_PROVIDER: 'prometheus', PROMETHEUS_PORT: '0', PURGE_INTERVAL_SECONDS: '1' });
    try {
      await issueCode(purging.submissionUrl);
      await issueCode(purging.submissionUrl);
      const before = await scrape(purging.metricsUrl);
      purging.clock.advance(25 * 3_600_000);
      const deleted = async () => delta(before, await scrape(purging.metricsUrl), 'diagnosis_purge_deleted_total{kind="unclaimed_codes"}');
      const deadline = Date.now() + 10_000;
      while ((await deleted()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await deleted()).toBe(2);
    } finally {
      await purging.stop();
    }
  });

  it('reads stored codes and keys from the database for its gauges', async () => {
    const fresh = await startSystem({ METRIC_PROVIDER: 'prometheus', PROMETHEUS_PORT: '0' });
    try {
      await issueCode(fresh.submissionUrl);
      const phone = await claimedPhone(fresh.submissionUrl);
      expect((await phone.upload(fresh.submissionUrl, makeKeys(4, fresh.clock.now()), fresh.clock.now())).status).toBe(200);
      const samples = await scrape(fresh.metricsUrl);
      expect(samples.get('diagnosis_one_time_codes{state="unclaimed"}')).toBe(1);
      expect(samples.get('diagnosis_one_time_codes{state="claimed"}')).toBe(1);
      expect(samples.get('diagnosis_keys_stored')).toBe(4);
      // Two codes issued, one claimed (its event and its life), one upload: none folded yet.
      const logged = await fresh.db.query(
        'SELECT (SELECT count(*) FROM events_log) + (SELECT count(*) FROM tek_upload_log) + (SELECT count(*) FROM otk_life_log) AS n',
      );
      expect(Number(logged.rows[0].n)).toBeGreaterThanOrEqual(4);
      expect(samples.get('diagnosis_statistics_unfolded_rows')).toBe(Number(logged.rows[0].n));
    } finally {
      await fresh.stop();
    }
  });

  it('counts clients that abandon their request apart, never as server errors, and logs no error', async () => {
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    const watched = await startSystem({ METRIC_PROVIDER: 'prometheus', PROMETHEUS_PORT: '0' }, undefined, log);
    try {
      const before = await scrape(watched.metricsUrl);
      const { port } = new URL(watched.submissionUrl);
      // A declared length under each route's limit, so each is waiting for the rest of its body.
      const cutOff = (path: string, declared = path === '/upload' ? 500 : 200) =>
        new Promise<void>((resolve) => {
          const socket = connect(Number(port), '127.0.0.1', () => {
            socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${declared}\r\n\r\n0123456789`);
            setTimeout(() => socket.destroy(), 50);
          });
          socket.on('close', () => resolve());
        });
      await Promise.all([...Array.from({ length: 20 }, () => cutOff('/upload')), ...Array.from({ length: 5 }, () => cutOff('/claim-key'))]);
      await new Promise((r) => setTimeout(r, 200));
      const after = await scrape(watched.metricsUrl);
      expect(delta(before, after, 'http_server_requests_aborted_total{method="POST",route="/upload"}')).toBe(20);
      expect(delta(before, after, 'http_server_requests_aborted_total{method="POST",route="/claim-key"}')).toBe(5);
      expect(delta(before, after, 'diagnosis_upload_rejections_total{error="SERVER_ERROR",rule="protocol"}')).toBe(0);
      expect([...after.keys()].filter((k) => k.startsWith('http_server_requests_total') && k.includes('status="500"'))).toEqual([]);
      expect(lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
    } finally {
      await watched.stop();
    }
  });
});
