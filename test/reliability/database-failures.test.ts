// The database fails under the servers: a backend terminated mid-request, Postgres
// restarted under load. Each is that request's 500 and nothing more: the process lives,
// nothing acknowledged is lost, and requests are answered again once Postgres is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dateNumber, hourNumber } from '../../src/protocol/time.js';
import { retrieve } from '../helpers/phone-download.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem();
});
afterAll(() => system.stop());

/** Terminates the servers' backends (they name themselves) in `state`, sparing the test's own. */
async function terminateServerBackends(state: string): Promise<number> {
  const result = await system.db.query<{ n: number }>(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = 'diagnosis-server' AND state = $1 AND pid <> pg_backend_pid()`,
    [state],
  );
  return result.rows[0]!.n;
}

describe('a terminated database backend', () => {
  it('fails the key file build it was serving with a 500, and the process serves the next request', async () => {
    const now = Date.now();
    // Enough keys that the build is still reading or signing when its backend goes.
    await system.db.query(
      `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
       SELECT decode(md5(random()::text || i), 'hex'), $1, 144, 1, $2, '302', 'test' FROM generate_series(1, 150000) AS i`,
      [(dateNumber(now) - 1) * 144, hourNumber(now) - 24],
    );
    let killed = 0;
    const download = retrieve(system.retrievalUrl, dateNumber(now) - 1, now);
    // While the file is zipped and signed, its backend sits idle in its transaction: no
    // query is running to take the error, so it comes as an 'error' event on the connection.
    for (let i = 0; i < 2000 && killed === 0; i++) killed = await terminateServerBackends('idle in transaction');
    expect(killed).toBeGreaterThan(0);
    expect((await download).status).toBe(500);
    const again = await retrieve(system.retrievalUrl, dateNumber(now) - 1, now);
    expect(again.status).toBe(200);
  });
});
