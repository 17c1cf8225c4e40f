// `diagnosis-server simulate`: options, the servers to run against (given, or `all`
// started here on embedded Postgres with a clock the simulation moves), a progress bar on
// a terminal, and the summary.
import { createPublicKey, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig, parseEnvironment } from '../config.js';
import { loadExportSigner } from '../crypto/export-signer.js';
import { localEnvironment } from '../dev-secrets.js';
import type { Clock } from '../protocol/time.js';
import { startRole } from '../start.js';
import { simulate, type Servers, type SimulationSettings, type SimulationSummary } from '../simulator/simulate.js';

export const SIMULATE_USAGE = `usage: diagnosis-server simulate [options]
  --phones N          phones (default 200)
  --days N            days simulated, ending today (default 14)
  --contacts N        meetings each phone starts per day (default 4)
  --positives F       share of phones that test positive (default 0.02)
  --seed N            seed of the population and its meetings (default 1)
  --regions LIST      serve several regions, e.g. 302=CA,310=US, with a portal for each
                      (servers started here only): phones are spread over them
  against running servers (otherwise \`all\` starts here on embedded Postgres):
  --submission-url U  --retrieval-url U
  --token T           a portal token (default: first of KEY_CLAIM_TOKEN)
  --hmac-key HEX      (default: RETRIEVE_HMAC_KEY)
  --public-key FILE   PEM public key that verifies the key files`;

function progressBar(): (stage: string, done: number, total: number) => void {
  if (!process.stderr.isTTY) return () => {};
  return (stage, done, total) => {
    const width = 30;
    const filled = Math.round((done / Math.max(1, total)) * width);
    process.stderr.write(`\r${stage.padEnd(12)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}   `);
    if (done === total) process.stderr.write('\n');
  };
}

/** A clock that runs with real time, shifted to wherever the simulation puts it. */
class ShiftedClock implements Clock {
  private offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  set(ms: number): void {
    this.offset = ms - Date.now();
  }
}

export function formatSummary(s: SimulationSummary): string {
  return [
    `phones:                ${s.phones}${s.regions.length > 1 ? ` in regions ${s.regions.join(', ')}` : ''}`,
    `meetings:              ${s.meetings}`,
    `positives:             ${s.positives}`,
    `keys published:        ${s.keysPublished}`,
    `exposures matched:     ${s.exposuresMatched} (phone × key), on ${s.phonesMatched} phones`,
    `people notified:       ${s.peopleNotified}`,
    `downloaded per phone:  ${(s.bytesDownloadedPerPhone / 1024).toFixed(1)} KiB`,
    `time:                  ${s.seconds.toFixed(1)} s`,
    s.problems.length
      ? `MISMATCH:\n  ${s.problems.join('\n  ')}`
      : 'matches: correct (every phone that heard a published key matched it, and no other)',
  ].join('\n');
}

export async function simulateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      phones: { type: 'string', default: '200' },
      days: { type: 'string', default: '14' },
      contacts: { type: 'string', default: '4' },
      positives: { type: 'string', default: '0.02' },
      seed: { type: 'string', default: '1' },
      regions: { type: 'string' },
      'submission-url': { type: 'string' },
      'retrieval-url': { type: 'string' },
      token: { type: 'string' },
      'hmac-key': { type: 'string' },
      'public-key': { type: 'string' },
    },
  });
  const settings: SimulationSettings = {
    phones: Number(values.phones),
    days: Number(values.days),
    contactsPerDay: Number(values.contacts),
    positiveShare: Number(values.positives),
    seed: Number(values.seed),
  };
  if (
    ![settings.phones, settings.days, settings.contactsPerDay, settings.seed].every((n) => Number.isInteger(n) && n >= 1) ||
    !(settings.positiveShare >= 0 && settings.positiveShare <= 1)
  ) {
    console.error(SIMULATE_USAGE);
    return 2;
  }

  if (values['submission-url'] || values['retrieval-url']) {
    const variables = parseEnvironment(process.env);
    const token = values.token ?? variables.KEY_CLAIM_TOKEN?.[0]?.token;
    const hmacKey = values['hmac-key'] ?? variables.RETRIEVE_HMAC_KEY?.toString('hex');
    if (!values['submission-url'] || !values['retrieval-url'] || !token || !hmacKey || !values['public-key']) {
      console.error(`simulate: remote servers need --submission-url, --retrieval-url, --token, --hmac-key and --public-key\n\n${SIMULATE_USAGE}`);
      return 2;
    }
    return report(settings, {
      submissionUrl: values['submission-url'],
      retrievalUrl: values['retrieval-url'],
      portalToken: token,
      hmacKey: Buffer.from(hmacKey, 'hex'),
      publicKey: createPublicKey(await readFile(values['public-key'], 'utf8')),
    });
  }

  // Several regions: a portal token bound to each, so that each region's phones get its codes.
  const mccs = values.regions?.split(',').map((entry) => entry.split('=')[0]!.trim()) ?? [];
  const regionEnv = values.regions
    ? { REGIONS: values.regions, KEY_CLAIM_TOKEN: mccs.map((mcc) => `${randomBytes(16).toString('hex')}=simulator-${mcc}@${mcc}`).join(':') }
    : {};
  const { env } = await localEnvironment({ ...process.env, ...regionEnv });
  const config = loadConfig({ ...env, BIND_ADDR: '127.0.0.1:0' }, 'all');
  const { submission, retrieval } = config;
  if (!submission || !retrieval) throw new Error('the all role runs both servers');
  const clock = new ShiftedClock();
  const running = await startRole('all', config, pino({ level: 'warn' }), clock);
  // From here on, whatever throws, the servers started here are stopped.
  try {
    return await report(settings, {
      submissionUrl: running.urls['key-submission']!,
      retrievalUrl: running.urls['key-retrieval']!,
      portalToken: submission.claimTokens[0]!.token,
      ...(mccs.length > 1 ? { regions: submission.claimTokens.map((t) => ({ mcc: t.region, portalToken: t.token })) } : {}),
      hmacKey: retrieval.retrieveHmacKey,
      // Phones that trust the first signing key, read as the servers read it: hex, or the path of a PEM file.
      publicKey: loadExportSigner(retrieval.regions[0]!.signingKeys[0]!.ecdsaKey).publicKey,
      region: retrieval.regions[0]!.mcc,
      setTime: (ms) => clock.set(ms),
      ...(running.runChores ? { runChores: running.runChores } : {}),
      ...(config.release?.policy === 'batched' ? { embargoMinutes: config.release.embargoMinutes } : {}),
    });
  } finally {
    await running.stop();
  }
}

async function report(settings: SimulationSettings, servers: Servers): Promise<number> {
  const summary = await simulate(settings, servers, progressBar());
  console.log(formatSummary(summary));
  return summary.problems.length === 0 ? 0 : 1;
}
