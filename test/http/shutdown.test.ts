// A stop (SIGTERM) while requests are being answered: they finish and are answered, new ones
// get a 503 meanwhile, and only then do the connections and the pool close.
import pg from 'pg';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { hourNumber } from '../../src/protocol/time.js';
import { claimedPhone, makeKeys } from '../helpers/app-client.js';
import { startSystem } from '../helpers/servers.js';

it('answers an upload in flight when the server stops, and refuses new requests meanwhile', async () => {
  const lines: { msg: string; requests?: number }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string; requests?: number }) });
  const system = await startSystem({}, undefined, log);
  let stopped: Promise<void> | undefined;
  const holder = new pg.Client({ connectionString: system.databaseUrl });
  await holder.connect();
  try {
    const phone = await claimedPhone(system.submissionUrl);
    const keys = makeKeys(3, system.clock.now());
    // Another transaction holds the same keys, inserted and uncommitted: the upload waits on it.
    await holder.query('BEGIN');
    await holder.query(
      `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
       SELECT k, 1, 144, 1, $2, '302', 'holder' FROM unnest($1::bytea[]) AS k`,
      [keys.map((k) => k.keyData), hourNumber(system.clock.now())],
    );
    const upload = phone.upload(system.submissionUrl, keys, system.clock.now());
    for (let i = 0; ; i++) {
      // Asked outside the holder's transaction, which would see one snapshot of the activity.
      const waiting = await system.db.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%store_diagnosis_key_uploads%'",
      );
      if (waiting.rows[0].n > 0) break;
      if (i > 500) throw new Error('the upload never waited');
      await new Promise((r) => setTimeout(r, 10));
    }

    stopped = system.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${system.submissionUrl}/services/ping`)).status).toBe(503);
    await holder.query('ROLLBACK');

    const answered = await upload;
    expect(answered.status).toBe(200);
    expect(answered.response.error).toBe(0);
    await stopped;
    const stored = await holder.query('SELECT count(*)::int AS n FROM diagnosis_keys WHERE key_data = ANY($1)', [keys.map((k) => k.keyData)]);
    expect(stored.rows[0].n).toBe(3);
    // The refusals are counted in one line, not logged one by one as Fastify did.
    expect(lines.filter((l) => l.msg === 'refused with a 503 while stopping').map((l) => l.requests)).toEqual([1]);
    expect(lines.filter((l) => l.msg.includes('refusing to accept'))).toEqual([]);
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    await holder.end();
    await (stopped ?? system.stop());
  }
});
