import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import type { Role } from '../src/roles.js';

const TOKEN = 'a'.repeat(20);
const HMAC_KEY = 'ab'.repeat(32);
/** What `all` requires, so that every slice is built. */
const EVERYTHING = { KEY_CLAIM_TOKEN: `${TOKEN}=portal`, RETRIEVE_HMAC_KEY: HMAC_KEY, ECDSA_KEY: 'ab' };
const load = (env: Record<string, string>, role: Role = 'all'): Config => loadConfig({ ...EVERYTHING, ...env }, role);
const failure = (env: Record<string, string>, role: Role = 'all') => {
  try {
    load(env, role);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a configuration error');
};

describe('configuration', () => {
  it('has the protocol defaults', () => {
    const config = load({});
    expect(config.submission).toMatchObject({
      maxConsecutiveClaimKeyFailures: 50,
      claimKeyBanDurationMs: 3_600_000,
      initialRemainingKeys: 43,
      encryptionKeyValidityDays: 15,
      oneTimeCodeExpiryMinutes: 1440,
      trustedProxyHops: 1,
      commitGroups: { maxSize: 32, maxInFlight: 4 },
    });
    expect(config.purge).toMatchObject({
      claimKeyBanDurationMs: 3_600_000,
      diagnosisKeyRetentionDays: 15,
      initialRemainingKeys: 43,
      encryptionKeyValidityDays: 15,
      oneTimeCodeExpiryMinutes: 1440,
      intervalMs: 30_000,
    });
    expect(config.retrieval).toMatchObject({ enableEntirePeriodBundle: true, disableCurrentDateCheck: true });
    expect(config.retrieval!.regions.map((r) => [r.mcc, r.exportRegion])).toEqual([['302', 'CA']]);
    expect(config.service.featureFlags).toEqual({ enableEntirePeriodBundle: true, disableCurrentDateCheck: true });
    expect(config.service.listen).toEqual({ host: undefined, port: undefined });
    expect(config.database.url).toBeUndefined();
  });

  it('parses KEY_CLAIM_TOKEN pairs', () => {
    expect(load({ KEY_CLAIM_TOKEN: `${TOKEN}=ontario:${'b'.repeat(63)}=302` }).submission!.claimTokens).toEqual([
      { token: TOKEN, label: 'ontario', region: '302' },
      { token: 'b'.repeat(63), label: '302', region: '302' },
    ]);
  });

  it('names the variable that is malformed', () => {
    expect(failure({ KEY_CLAIM_TOKEN: 'short=label' })).toMatch(/^KEY_CLAIM_TOKEN: /);
    expect(failure({ KEY_CLAIM_TOKEN: `${'c'.repeat(64)}=label` })).toMatch(/^KEY_CLAIM_TOKEN: /);
    expect(failure({ KEY_CLAIM_TOKEN: `${TOKEN}=${'l'.repeat(32)}` })).toMatch(/^KEY_CLAIM_TOKEN: /);
    expect(failure({ KEY_CLAIM_TOKEN: `${TOKEN}=a:${TOKEN}=b` })).toMatch(/^KEY_CLAIM_TOKEN: /);
    expect(failure({ RETRIEVE_HMAC_KEY: 'ab'.repeat(31) })).toMatch(/^RETRIEVE_HMAC_KEY: /);
    expect(failure({ RETRIEVE_HMAC_KEY: 'zz'.repeat(40) })).toMatch(/^RETRIEVE_HMAC_KEY: /);
    expect(failure({ PORT: 'eighty' })).toMatch(/^PORT: /);
    expect(failure({ PORT: '70000' })).toMatch(/^PORT: /);
    expect(failure({ BIND_ADDR: 'localhost' })).toMatch(/^BIND_ADDR: /);
    expect(failure({ METRIC_PROVIDER: 'statsd' })).toMatch(/^METRIC_PROVIDER: /);
    expect(failure({ METRICS_PASSWORD: 'short' })).toMatch(/^METRICS_PASSWORD: /);
    expect(failure({ DATABASE_URL: 'mysql://x' })).toMatch(/^DATABASE_URL: /);
    expect(failure({ INITIAL_REMAINING_KEYS: '0' })).toMatch(/^INITIAL_REMAINING_KEYS: /);
    expect(failure({ COMMIT_GROUP_MAX: '61' })).toMatch(/^COMMIT_GROUP_MAX: must be at most 60/);
    expect(failure({ COMMIT_GROUP_MAX: '0' })).toMatch(/^COMMIT_GROUP_MAX: /);
    expect(load({ COMMIT_GROUP_MAX: '1' }).submission!.commitGroups.maxSize).toBe(1);
    expect(failure({ TRUSTED_PROXIES: '10.0.0.0/8,localhost' })).toMatch(/^TRUSTED_PROXIES: /);
    expect(load({ TRUSTED_PROXIES: '10.0.0.0/8, fc00::/7' }).submission!.trustedProxies).toEqual(['10.0.0.0/8', 'fc00::/7']);
  });

  it('prefers BIND_ADDR to PORT', () => {
    // PORT alone leaves the host to the role: loopback for `all`, every interface for servers.
    expect(load({ PORT: '9000' }).service.listen).toEqual({ host: undefined, port: 9000 });
    expect(load({ PORT: '9000', HOST: '::' }).service.listen).toEqual({ host: '::', port: 9000 });
    expect(load({ PORT: '9000', BIND_ADDR: '127.0.0.1:9100' }).service.listen).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(load({ BIND_ADDR: '[::1]:9100' }).service.listen).toEqual({ host: '::1', port: 9100 });
  });

  it('refuses retention past 21 days, and shorter than the protocol unless meant', () => {
    expect(failure({ MAX_DIAGNOSIS_KEY_RETENTION_DAYS: '21' })).toMatch(/^MAX_DIAGNOSIS_KEY_RETENTION_DAYS: 21 would keep data past 21 days/);
    expect(load({ MAX_DIAGNOSIS_KEY_RETENTION_DAYS: '20' }).purge!.diagnosisKeyRetentionDays).toBe(20);
    expect(failure({ ENCRYPTION_KEY_VALIDITY_DAYS: '22' })).toMatch(/^ENCRYPTION_KEY_VALIDITY_DAYS: /);
    expect(failure({ ONE_TIME_CODE_EXPIRY_IN_MINUTES: String(21 * 1440 + 1) })).toMatch(/^ONE_TIME_CODE_EXPIRY_IN_MINUTES: /);
    expect(failure({ CLAIM_KEY_BAN_DURATION_HOURS: String(21 * 24 + 1) })).toMatch(/^CLAIM_KEY_BAN_DURATION_HOURS: /);
    expect(failure({ MAX_DIAGNOSIS_KEY_RETENTION_DAYS: '14' })).toMatch(
      /^MAX_DIAGNOSIS_KEY_RETENTION_DAYS: 14 is shorter than the protocol's 15; set ALLOW_SHORT_RETENTION=true/,
    );
    expect(failure({ ONE_TIME_CODE_EXPIRY_IN_MINUTES: '60' })).toMatch(/^ONE_TIME_CODE_EXPIRY_IN_MINUTES: /);
    const short = load({ MAX_DIAGNOSIS_KEY_RETENTION_DAYS: '14', ONE_TIME_CODE_EXPIRY_IN_MINUTES: '60', ALLOW_SHORT_RETENTION: 'true' });
    expect(short.shortRetention).toEqual([
      'MAX_DIAGNOSIS_KEY_RETENTION_DAYS=14 (protocol: 15)',
      'ONE_TIME_CODE_EXPIRY_IN_MINUTES=60 (protocol: 1440)',
    ]);
    expect(load({}).shortRetention).toEqual([]);
  });

  it('refuses test tools in production', () => {
    expect(failure({ ENABLE_TEST_TOOLS: 'true', ENV: 'production' })).toMatch(/^ENABLE_TEST_TOOLS: /);
    expect(load({ ENABLE_TEST_TOOLS: 'true' }).submission!.enableTestTools).toBe(true);
  });

  it('requires what each role needs, and nothing more', () => {
    expect(() => loadConfig({}, 'key-submission')).toThrow(/^KEY_CLAIM_TOKEN: /);
    expect(() => loadConfig({}, 'key-retrieval')).toThrow(/^RETRIEVE_HMAC_KEY: /);
    expect(() => loadConfig({ RETRIEVE_HMAC_KEY: HMAC_KEY }, 'key-retrieval')).toThrow(/^ECDSA_KEY: /);
    expect(() => loadConfig({ RETRIEVE_HMAC_KEY: HMAC_KEY, ECDSA_KEY: 'ab' }, 'key-retrieval')).not.toThrow();
    expect(() => loadConfig({}, 'migrate')).not.toThrow();
  });

  it('gives each role the slices of what it runs, and no other', () => {
    const slices = (role: Role) => {
      const config = load({}, role);
      return (['submission', 'retrieval', 'purge'] as const).filter((slice) => config[slice] !== undefined);
    };
    expect(slices('key-submission')).toEqual(['submission', 'purge']);
    expect(slices('key-retrieval')).toEqual(['retrieval']);
    expect(slices('migrate')).toEqual([]);
    expect(slices('purge')).toEqual(['purge']);
    expect(slices('purger')).toEqual(['purge']);
    expect(slices('all')).toEqual(['submission', 'retrieval', 'purge']);
  });
});

describe('SIGNING_KEYS_FILE', () => {
  const withFile = (contents: unknown, env: Record<string, string> = {}) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'signing-keys-'));
    const file = path.join(dir, 'keys.json');
    writeFileSync(file, typeof contents === 'string' ? contents : JSON.stringify(contents));
    try {
      return loadConfig({ RETRIEVE_HMAC_KEY: HMAC_KEY, SIGNING_KEYS_FILE: file, ...env }, 'key-retrieval');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const error = (contents: unknown, env: Record<string, string> = {}) => {
    try {
      withFile(contents, env);
    } catch (err) {
      return (err as Error).message;
    }
    return 'no error';
  };

  it('lists every key with its id, version and validity, in order', () => {
    const config = withFile([
      { ecdsaKey: 'ab', keyId: '302', keyVersion: 'v1', notAfter: '2027-01-01T12:00:00Z' },
      { ecdsaKey: 'cd', keyId: '302', keyVersion: 'v2', notBefore: '2027-01-01T00:00:00Z' },
    ]);
    expect(config.retrieval!.regions[0]!.signingKeys).toEqual([
      {
        ecdsaKey: 'ab',
        keyId: '302',
        keyVersion: 'v1',
        notBeforeMs: undefined,
        notAfterMs: Date.UTC(2027, 0, 1, 12),
        origin: 'SIGNING_KEYS_FILE (key 302/v1)',
      },
      {
        ecdsaKey: 'cd',
        keyId: '302',
        keyVersion: 'v2',
        notBeforeMs: Date.UTC(2027, 0, 1),
        notAfterMs: undefined,
        origin: 'SIGNING_KEYS_FILE (key 302/v2)',
      },
    ]);
  });

  it('makes ECDSA_KEY with EXPORT_KEY_ID and EXPORT_KEY_VERSION the one-key form', () => {
    expect(load({ EXPORT_KEY_ID: '310', EXPORT_KEY_VERSION: 'v7' }).retrieval!.regions[0]!.signingKeys).toEqual([
      { ecdsaKey: 'ab', keyId: '310', keyVersion: 'v7', notBeforeMs: undefined, notAfterMs: undefined, origin: 'ECDSA_KEY' },
    ]);
  });

  it('names what is wrong', () => {
    const key = { ecdsaKey: 'ab', keyId: '302', keyVersion: 'v1' };
    expect(error([key], { ECDSA_KEY: 'ab' })).toBe('SIGNING_KEYS_FILE: set it or ECDSA_KEY, not both');
    expect(error('not json')).toMatch(/^SIGNING_KEYS_FILE: /);
    expect(error([])).toBe('SIGNING_KEYS_FILE: must list at least one key');
    expect(error([key, key])).toBe('SIGNING_KEYS_FILE: a key id and version is listed twice');
    expect(error([{ ...key, notBefore: '2027-01-02T00:00:00Z', notAfter: '2027-01-01T00:00:00Z' }])).toBe(
      'SIGNING_KEYS_FILE: 0.notAfter: must be after notBefore',
    );
    expect(error([{ ...key, notBefore: 'tomorrow' }])).toMatch(/^SIGNING_KEYS_FILE: 0\.notBefore: must be an ISO 8601 time/);
    expect(error([{ ...key, keyID: 'typo' }])).toMatch(/^SIGNING_KEYS_FILE: /);
  });
});

describe('regions', () => {
  const regionsOf = (env: Record<string, string>) => load(env).retrieval!.regions.map((r) => `${r.mcc}=${r.exportRegion}`);
  const regionOf = (env: Record<string, string>) => load(env).submission!.claimTokens.map((t) => `${t.label}@${t.region}`);
  const error = (env: Record<string, string>) => {
    try {
      load(env);
    } catch (err) {
      return (err as Error).message;
    }
    return 'no error';
  };

  it('serves 302=CA by default, with REGION and EXPORT_REGION as the one-region form', () => {
    expect(regionsOf({})).toEqual(['302=CA']);
    expect(regionsOf({ REGION: '310', EXPORT_REGION: 'US' })).toEqual(['310=US']);
    expect(regionsOf({ REGIONS: '302=CA,310=US' })).toEqual(['302=CA', '310=US']);
  });

  it('binds each portal token to a served region: @mcc, the legacy label, or the first', () => {
    const tokens = `${'a'.repeat(20)}=ontario:${'b'.repeat(20)}=texas@310:${'c'.repeat(20)}=302:${'d'.repeat(20)}=310`;
    expect(regionOf({ REGIONS: '302=CA,310=US', KEY_CLAIM_TOKEN: tokens })).toEqual(['ontario@302', 'texas@310', '302@302', '310@310']);
    expect(error({ KEY_CLAIM_TOKEN: `${'b'.repeat(20)}=texas@310` })).toBe(
      'KEY_CLAIM_TOKEN: the token labelled texas issues for region 310, which is not served (REGIONS)',
    );
  });

  it('names what is wrong', () => {
    expect(error({ REGIONS: '302=CA,302=US' })).toBe('REGIONS: a region (MCC) is listed twice');
    expect(error({ REGIONS: '30=CA' })).toBe('REGIONS: 0.mcc: must be 3 digits (a mobile country code)');
    expect(error({ REGIONS: '302' })).toMatch(/^REGIONS: 0\.exportRegion: /);
    expect(error({ REGIONS: '302=CA', REGION: '302' })).toBe('REGION: set REGIONS or REGIONS_FILE, or REGION and EXPORT_REGION, not both');
  });

  it('reads REGIONS_FILE with each region’s own signing keys, exposure configuration and retention', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'regions-'));
    try {
      const file = path.join(dir, 'regions.json');
      writeFileSync(
        file,
        JSON.stringify([
          { mcc: '302', exportRegion: 'CA' },
          {
            mcc: '310',
            exportRegion: 'US',
            signingKeys: [{ ecdsaKey: 'cd', keyId: '310', keyVersion: 'v1' }],
            exposureConfigurationDir: dir,
            diagnosisKeyRetentionDays: 16,
          },
        ]),
      );
      const config = load({ REGIONS_FILE: file });
      expect(config.retrieval!.regions).toEqual([
        {
          mcc: '302',
          exportRegion: 'CA',
          signingKeys: [expect.objectContaining({ ecdsaKey: 'ab', origin: 'ECDSA_KEY' })],
          exposureConfigurationDir: undefined,
        },
        {
          mcc: '310',
          exportRegion: 'US',
          signingKeys: [expect.objectContaining({ ecdsaKey: 'cd', keyId: '310', origin: 'REGIONS_FILE region 310 (key 310/v1)' })],
          exposureConfigurationDir: dir,
        },
      ]);
      expect(config.purge!.regionRetention).toEqual([{ mcc: '310', diagnosisKeyRetentionDays: 16 }]);
      writeFileSync(file, JSON.stringify([{ mcc: '310', exportRegion: 'US', diagnosisKeyRetentionDays: 30 }]));
      expect(error({ REGIONS_FILE: file })).toMatch(/^REGIONS_FILE region 310: MAX_DIAGNOSIS_KEY_RETENTION_DAYS: 30 would keep data past 21 days/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
