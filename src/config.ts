// Environment → validated settings, parsed once, handed out in typed slices. Each part of
// the program gets only the slice it needs (no module sees the secrets of another), and a
// role's slices are all built before anything starts, so a missing or malformed variable
// stops start-up with its name. The entry points hand process.env here; nothing else
// in the program reads it (but to pass it on to Postgres' own processes).
import { readFileSync } from 'node:fs';
import { packagePath } from './package-root.js';
import { z } from 'zod';
import { DEFAULT_TRUSTED_PROXIES, isCidr } from './network/trusted-proxies.js';
import { roleSpec, type Role } from './roles.js';
import { checkRetention, type RetentionRules } from './protocol/retention.js';
import type { UploadRules } from './protocol/upload.js';
import type { KeyRelease, ReleaseRules } from './protocol/release.js';
import type { SigningKeyValidity } from './protocol/signing-keys.js';

/** Thrown for a missing or malformed variable; its message names the variable. */
export class ConfigError extends Error {}

export type Environment = Record<string, string | undefined>;

/** `<checkout>/.data`: where `all` keeps its embedded Postgres and development secrets. */
export const DEFAULT_DATA_DIR = packagePath('.data');

export interface ClaimToken {
  token: string;
  /** What statistics record as the originator of codes issued with this token. */
  label: string;
  /** The region (MCC) whose codes the portal issues: `token=label@310`; else the first region (or the label, in the legacy form `token=302`). */
  region: string;
}

/** Where a server listens; each part left undefined takes the role's default. */
export interface ListenAddress {
  host: string | undefined;
  port: number | undefined;
}

const TOKEN = /^[\x21-\x7e]{20,63}$/;

/** As written: the region, when given, is resolved against the configured regions later. */
type WrittenClaimToken = Omit<ClaimToken, 'region'> & { region: string | undefined };

const claimTokens = z.string().transform((raw, ctx): WrittenClaimToken[] => {
  const tokens: WrittenClaimToken[] = [];
  for (const pair of raw.split(':')) {
    const eq = pair.indexOf('=');
    const token = eq < 0 ? '' : pair.slice(0, eq);
    const bound = eq < 0 ? null : /^(.*)@(\d{3})$/.exec(pair.slice(eq + 1));
    const label = bound ? bound[1]! : eq < 0 ? '' : pair.slice(eq + 1);
    if (!TOKEN.test(token) || token.includes('=')) {
      ctx.addIssue({ code: 'custom', message: 'each entry must be token=label with a token of 20 to 63 printable characters' });
      return z.NEVER;
    }
    if (label.length < 1 || label.length > 31) {
      ctx.addIssue({ code: 'custom', message: 'each label must be 1 to 31 characters' });
      return z.NEVER;
    }
    tokens.push({ token, label, region: bound?.[2] });
  }
  if (new Set(tokens.map((t) => t.token)).size !== tokens.length) {
    ctx.addIssue({ code: 'custom', message: 'a token is listed twice' });
    return z.NEVER;
  }
  return tokens;
});

const hexKey = (minChars: number) =>
  z
    .string()
    .regex(/^([0-9a-fA-F]{2})+$/, 'must be hex')
    .refine((s) => s.length >= minChars, `must be at least ${minChars} hex characters`)
    .transform((s) => Buffer.from(s, 'hex'));

const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const wholeNumber = z.string().regex(/^\d+$/, 'must be a whole number').transform(Number);
const positiveInt = wholeNumber.pipe(z.number().int().positive());
const smallPositiveInt = positiveInt.pipe(z.number().max(32767));
const port = z.string().regex(/^\d+$/, 'must be a port number').transform(Number).pipe(z.number().int().min(0).max(65535));
const text = z.string().min(1);

const bindAddr = z.string().transform((raw, ctx): ListenAddress => {
  const colon = raw.lastIndexOf(':');
  const portText = raw.slice(colon + 1);
  const parsed = Number(portText);
  if (colon < 0 || !/^\d+$/.test(portText) || parsed > 65535) {
    ctx.addIssue({ code: 'custom', message: 'must be host:port' });
    return z.NEVER;
  }
  const host = raw.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? '0.0.0.0' : host, port: parsed };
});

/** Every variable the server reads, with its default: README.md lists them. */
const variables = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  DATABASE_READER_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  DATABASE_QUERY_TIMEOUT_SECONDS: positiveInt.default(10),
  DATABASE_CONNECT_TIMEOUT_SECONDS: positiveInt.default(5),
  EMBEDDED_POSTGRES_PORT: port.default(54320),
  DATA_DIR: text.optional(),
  KEY_CLAIM_TOKEN: claimTokens.optional(),
  RETRIEVE_HMAC_KEY: hexKey(64).optional(),
  ECDSA_KEY: text.optional(),
  SIGNING_KEYS_FILE: text.optional(),
  METRICS_USERNAME: z.string().min(10, 'must be at least 10 characters').optional(),
  METRICS_PASSWORD: z.string().min(10, 'must be at least 10 characters').optional(),
  METRIC_PROVIDER: z.enum(['stdout', 'pretty', 'prometheus']).optional(),
  TRACER_PROVIDER: z.enum(['stdout', 'pretty']).optional(),
  PROMETHEUS_PORT: port.default(2222),
  METRIC_EXPORT_INTERVAL_SECONDS: positiveInt.default(60),
  BIND_ADDR: bindAddr.optional(),
  PORT: port.optional(),
  HOST: text.optional(),
  HTTP_HEADERS_TIMEOUT_SECONDS: positiveInt.default(15),
  HTTP_REQUEST_TIMEOUT_SECONDS: positiveInt.default(30),
  HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: positiveInt.default(65),
  HTTP_MAX_CONNECTIONS: positiveInt.default(10_000),
  ENABLE_TEST_TOOLS: flag.default(false),
  ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUSTED_PROXY_HOPS: wholeNumber.default(1),
  TRUSTED_PROXIES: z
    .string()
    .transform((raw) => raw.split(',').map((c) => c.trim()))
    .refine((cidrs) => cidrs.every(isCidr), 'must be a comma-separated list of CIDRs (10.0.0.0/8, fc00::/7)')
    .optional(),
  CORS_ACCESS_CONTROL_ALLOW_ORIGIN: text.default('*'),
  REGION: z
    .string()
    .regex(/^\d{3}$/, 'must be 3 digits')
    .optional(),
  REGIONS: z.string().optional(),
  REGIONS_FILE: text.optional(),
  MAX_CONSECUTIVE_CLAIM_KEY_FAILURES: smallPositiveInt.default(50),
  CLAIM_KEY_BAN_DURATION_HOURS: positiveInt.default(1),
  MAX_DIAGNOSIS_KEY_RETENTION_DAYS: positiveInt.default(15),
  INITIAL_REMAINING_KEYS: smallPositiveInt.default(43),
  ENCRYPTION_KEY_VALIDITY_DAYS: positiveInt.default(15),
  ONE_TIME_CODE_EXPIRY_IN_MINUTES: positiveInt.default(1440),
  ACCEPT_CHAFF: flag.default(true),
  MAX_KEYS_PER_START_INTERVAL: wholeNumber.pipe(z.number().max(32767)).default(3),
  REFUSE_FUTURE_KEYS: flag.default(true),
  // Each request of a group is a subtransaction; Postgres caches 64 of them per backend.
  COMMIT_GROUP_MAX: positiveInt.pipe(z.number().max(60, 'must be at most 60')).default(32),
  COMMIT_GROUPS_IN_FLIGHT: positiveInt.pipe(z.number().max(16, 'must be at most 16')).default(4),
  DROP_UNSERVABLE_KEYS: flag.default(true),
  CLAIM_REPLAY_MINUTES: wholeNumber.pipe(z.number().max(1440, 'must be at most 1440 (a day)')).default(15),
  PURGE_INTERVAL_SECONDS: positiveInt.default(30),
  KEY_RELEASE: z.enum(['batched', 'immediate']).default('batched'),
  KEY_EMBARGO_MINUTES: wholeNumber.pipe(z.number().max(1440, 'must be at most 1440 (a day)')).default(120),
  EXPORT_MIN_KEYS_PER_BATCH: wholeNumber.pipe(z.number().max(100_000, 'must be at most 100000')).default(1000),
  EXPORT_PADDING_JITTER: wholeNumber.pipe(z.number().max(100_000, 'must be at most 100000')).default(100),
  ALLOW_SHORT_RETENTION: flag.default(false),
  ENABLE_ENTIRE_PERIOD_BUNDLE: flag.default(true),
  DISABLE_CURRENT_DATE_CHECK: flag.default(true),
  EXPORT_REGION: text.optional(),
  EXPORT_KEY_ID: text.default('302'),
  EXPORT_KEY_VERSION: text.default('v1'),
  EXPORT_SIGNATURE_ALGORITHM: text.default('1.2.840.10045.4.3.2'),
  EXPOSURE_CONFIGURATION_DIR: text.optional(),
  EXPORT_CACHE_MB: positiveInt.default(256),
  BUILD_BRANCH: z.string().default('unknown'),
  BUILD_REVISION: z.string().default('unknown'),
});

/** The environment, parsed: every variable in its final type, defaults filled in. */
export type Variables = z.output<typeof variables>;

/** Parses the environment once. Empty strings count as unset, as shells often export them. */
export function parseEnvironment(env: Environment): Variables {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = variables.safeParse(present);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  const v = result.data;
  if (v.ENABLE_TEST_TOOLS && v.ENV === 'production') throw new ConfigError('ENABLE_TEST_TOOLS: test tools are refused when ENV=production');
  if (v.HTTP_HEADERS_TIMEOUT_SECONDS > v.HTTP_REQUEST_TIMEOUT_SECONDS) {
    throw new ConfigError('HTTP_HEADERS_TIMEOUT_SECONDS: must not be longer than HTTP_REQUEST_TIMEOUT_SECONDS, which includes the headers');
  }
  return v;
}

// The slices. Each names what one part of the program needs, in the units it uses.

export interface DatabaseTimeouts {
  queryMs: number;
  connectMs: number;
}

export interface DatabaseSettings {
  /** Postgres URL; undefined means "start the embedded Postgres". */
  url: string | undefined;
  /** Where retrieval reads, when not from `url`: a read replica. */
  readerUrl: string | undefined;
  /** How long a query (or a key file's COPY) and a new connection may take before the request gets its 500. */
  timeouts: DatabaseTimeouts;
  embeddedPostgresPort: number;
  dataDir: string;
}

export interface TelemetrySettings {
  metricProvider: 'stdout' | 'pretty' | 'prometheus' | undefined;
  tracerProvider: 'stdout' | 'pretty' | undefined;
  /** Port of /metrics with METRIC_PROVIDER=prometheus. */
  prometheusPort: number;
  /** How often the stdout and pretty metric providers print. */
  metricExportIntervalMs: number;
}

/**
 * How long a client may take, and how many may connect at once. A slow or stalled client
 * is cut off instead of holding a connection for ever; the defaults leave a phone on a
 * slow network ample time for a request of at most a kilobyte.
 */
export interface HttpLimits {
  /** From connection (or the previous response) to the end of the request's headers. */
  headersTimeoutMs: number;
  /** To the end of the whole request, body included; also how long a silent socket may stay. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection; longer than a load balancer's own (AWS: 60 s), so it closes first. */
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

/** What both HTTP servers share: where they listen, their limits, /services/* (protocol §4.4). */
export interface ServiceSettings {
  listen: ListenAddress;
  limits: HttpLimits;
  build: { branch: string; revision: string };
  featureFlags: { enableEntirePeriodBundle: boolean; disableCurrentDateCheck: boolean };
}

export interface SubmissionSettings extends UploadRules {
  /** Never empty. */
  /** Each with the region its codes' keypairs, and so their keys, belong to. */
  claimTokens: ClaimToken[];
  /** How many proxies in front of us append to X-Forwarded-For (protocol §6). */
  trustedProxyHops: number;
  /** Peers (CIDRs) whose X-Forwarded-For entries may be believed; any other peer is the client. */
  trustedProxies: string[];
  corsAllowOrigin: string;
  maxConsecutiveClaimKeyFailures: number;
  claimKeyBanDurationMs: number;
  initialRemainingKeys: number;
  oneTimeCodeExpiryMinutes: number;
  encryptionKeyValidityDays: number;
  /** A claim whose answer was lost may be repeated, same code and app key, for this long; 0: never (the original). */
  claimReplayMinutes: number;
  /** Requests with X-Chaff get a look-alike answer and touch nothing; false: the header is ignored (the original). */
  acceptChaff: boolean;
  enableTestTools: boolean;
  /**
   * Concurrent uploads and claims share a database call, and one commit: at most `maxSize`
   * requests a group, `maxInFlight` groups of each kind at once (db/commit-groups.ts).
   */
  commitGroups: { maxSize: number; maxInFlight: number };
}

/** A key that signs key files, as Apple and Google registered it, and when it may sign. */
export interface SigningKeySettings extends SigningKeyValidity {
  /** Hex of a SEC1 DER P-256 private key, or the path of a PEM file. */
  ecdsaKey: string;
  /** Where it is configured, for an error about it: ECDSA_KEY, or the file and entry. */
  origin: string;
  keyId: string;
  keyVersion: string;
}

/** A served region, as configured (REGIONS, REGIONS_FILE, or REGION and EXPORT_REGION). */
export interface RegionSettings {
  /** Mobile country code: the region of /retrieve/{mcc}/…, of keypairs and of their keys. */
  mcc: string;
  /** The `region` written in its key files. */
  exportRegion: string;
  /** Its own signing keys; undefined: the deployment's (SIGNING_KEYS_FILE or ECDSA_KEY). */
  signingKeys: SigningKeySettings[] | undefined;
  /** Its own exposure configuration, served under /exposure-configuration/{mcc}/. */
  exposureConfigurationDir: string | undefined;
  /** Its own MAX_DIAGNOSIS_KEY_RETENTION_DAYS. */
  diagnosisKeyRetentionDays: number | undefined;
}

/** A region as retrieval serves it. */
export interface RetrievalRegion {
  mcc: string;
  exportRegion: string;
  /** Every key that may sign its files, in the order their signatures are listed; never empty. */
  signingKeys: SigningKeySettings[];
  exposureConfigurationDir: string | undefined;
}

export interface RetrievalSettings {
  /** batched: files hold sealed batches only; immediate: every key as soon as it is stored (the original). */
  keyRelease: KeyRelease;
  retrieveHmacKey: Buffer;
  /** The served regions, by MCC; any other MCC is 404. */
  regions: RetrievalRegion[];
  /** The signature algorithm of every key. */
  exportSignatureAlgorithm: string;
  enableEntirePeriodBundle: boolean;
  disableCurrentDateCheck: boolean;
  exposureConfigurationDir: string | undefined;
  exportCacheBytes: number;
  /** Basic auth of /events; without both, /events answers 401 to everyone. */
  eventsUsername: string | undefined;
  eventsPassword: string | undefined;
}

export interface PurgeSettings extends RetentionRules {
  intervalMs: number;
  /** Regions that keep their diagnosis keys for other than diagnosisKeyRetentionDays. */
  regionRetention: { mcc: string; diagnosisKeyRetentionDays: number }[];
}

/** What the process that purges also does with KEY_RELEASE=batched: seal each hour's batch. */
export interface ReleaseSettings extends ReleaseRules {
  policy: KeyRelease;
}

/** A role's configuration: the shared slices, and the slice of each part the role runs. */
export interface Config {
  logLevel: string;
  database: DatabaseSettings;
  telemetry: TelemetrySettings;
  service: ServiceSettings;
  submission?: SubmissionSettings;
  retrieval?: RetrievalSettings;
  purge?: PurgeSettings;
  /** With the purge: the sealer runs where the purge does. */
  release?: ReleaseSettings;
  /** Retention settings below the protocol's, allowed by ALLOW_SHORT_RETENTION; logged at start. */
  shortRetention: string[];
}

export function serviceSettings(v: Variables): ServiceSettings {
  return {
    listen: v.BIND_ADDR ?? { host: v.HOST, port: v.PORT },
    limits: {
      headersTimeoutMs: v.HTTP_HEADERS_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_SECONDS * 1000,
      keepAliveTimeoutMs: v.HTTP_KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
      maxConnections: v.HTTP_MAX_CONNECTIONS,
    },
    build: { branch: v.BUILD_BRANCH, revision: v.BUILD_REVISION },
    featureFlags: { enableEntirePeriodBundle: v.ENABLE_ENTIRE_PERIOD_BUNDLE, disableCurrentDateCheck: v.DISABLE_CURRENT_DATE_CHECK },
  };
}

function retentionRules(v: Variables): RetentionRules {
  return {
    diagnosisKeyRetentionDays: v.MAX_DIAGNOSIS_KEY_RETENTION_DAYS,
    encryptionKeyValidityDays: v.ENCRYPTION_KEY_VALIDITY_DAYS,
    oneTimeCodeExpiryMinutes: v.ONE_TIME_CODE_EXPIRY_IN_MINUTES,
    claimKeyBanDurationMs: v.CLAIM_KEY_BAN_DURATION_HOURS * 3_600_000,
    initialRemainingKeys: v.INITIAL_REMAINING_KEYS,
    claimReplayMinutes: v.CLAIM_REPLAY_MINUTES,
  };
}

/**
 * Each portal token's region: the one written after `@`, which must be served; else the
 * label itself in the legacy form `token=302` (when that region is served); else the first.
 */
function claimTokensWithRegions(tokens: WrittenClaimToken[], regions: RegionSettings[]): ClaimToken[] {
  const served = new Set(regions.map((r) => r.mcc));
  return tokens.map((t) => {
    if (t.region !== undefined && !served.has(t.region)) {
      throw new ConfigError(`KEY_CLAIM_TOKEN: the token labelled ${t.label} issues for region ${t.region}, which is not served (REGIONS)`);
    }
    const region = t.region ?? (served.has(t.label) ? t.label : regions[0]!.mcc);
    return { token: t.token, label: t.label, region };
  });
}

export function submissionSettings(v: Variables, regions: RegionSettings[] = regionSettings(v)): SubmissionSettings {
  if (!v.KEY_CLAIM_TOKEN) throw new ConfigError('KEY_CLAIM_TOKEN: required (token=label[:token=label…])');
  const retention = retentionRules(v);
  return {
    claimTokens: claimTokensWithRegions(v.KEY_CLAIM_TOKEN, regions),
    trustedProxyHops: v.TRUSTED_PROXY_HOPS,
    trustedProxies: v.TRUSTED_PROXIES ?? DEFAULT_TRUSTED_PROXIES,
    corsAllowOrigin: v.CORS_ACCESS_CONTROL_ALLOW_ORIGIN,
    maxConsecutiveClaimKeyFailures: v.MAX_CONSECUTIVE_CLAIM_KEY_FAILURES,
    claimKeyBanDurationMs: retention.claimKeyBanDurationMs,
    initialRemainingKeys: retention.initialRemainingKeys,
    oneTimeCodeExpiryMinutes: retention.oneTimeCodeExpiryMinutes,
    encryptionKeyValidityDays: retention.encryptionKeyValidityDays,
    claimReplayMinutes: retention.claimReplayMinutes,
    acceptChaff: v.ACCEPT_CHAFF,
    maxKeysPerStartInterval: v.MAX_KEYS_PER_START_INTERVAL,
    refuseFutureKeys: v.REFUSE_FUTURE_KEYS,
    dropUnservableKeys: v.DROP_UNSERVABLE_KEYS,
    commitGroups: { maxSize: v.COMMIT_GROUP_MAX, maxInFlight: v.COMMIT_GROUPS_IN_FLIGHT },
    enableTestTools: v.ENABLE_TEST_TOOLS,
  };
}

const instant = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time, e.g. 2027-01-01T00:00:00Z')
  .transform((s) => Date.parse(s));

/** Keys that sign, each valid from notBefore until notAfter: SIGNING_KEYS_FILE, or a region's own. */
const signingKeyList = z
  .array(
    z.strictObject({
      ecdsaKey: text,
      keyId: text,
      keyVersion: text,
      notBefore: instant.optional(),
      notAfter: instant.optional(),
    }),
  )
  .min(1, 'must list at least one key')
  .superRefine((keys, ctx) => {
    for (const [i, k] of keys.entries()) {
      if (k.notBefore !== undefined && k.notAfter !== undefined && !(k.notBefore < k.notAfter)) {
        ctx.addIssue({ code: 'custom', path: [i, 'notAfter'], message: 'must be after notBefore' });
      }
    }
    const ids = keys.map((k) => `${k.keyId}/${k.keyVersion}`);
    if (new Set(ids).size !== ids.length) ctx.addIssue({ code: 'custom', message: 'a key id and version is listed twice' });
  })
  .transform((keys) =>
    keys.map((k) => ({ ecdsaKey: k.ecdsaKey, keyId: k.keyId, keyVersion: k.keyVersion, notBeforeMs: k.notBefore, notAfterMs: k.notAfter })),
  );

/** Where each key of a list came from, for errors about it. */
const keysFrom = (origin: string, keys: Omit<SigningKeySettings, 'origin'>[]): SigningKeySettings[] =>
  keys.map((k) => ({ ...k, origin: `${origin} (key ${k.keyId}/${k.keyVersion})` }));

/** The served regions: REGIONS (`302=CA,310=US`) and REGIONS_FILE (JSON, with each region's own settings) both end here. */
const regionList = z
  .array(
    z.strictObject({
      mcc: z.string().regex(/^\d{3}$/, 'must be 3 digits (a mobile country code)'),
      exportRegion: text,
      signingKeys: signingKeyList.optional(),
      exposureConfigurationDir: text.optional(),
      diagnosisKeyRetentionDays: z.number().int().positive().optional(),
    }),
  )
  .min(1, 'must list at least one region')
  .superRefine((regions, ctx) => {
    const mccs = regions.map((r) => r.mcc);
    if (new Set(mccs).size !== mccs.length) ctx.addIssue({ code: 'custom', message: 'a region (MCC) is listed twice' });
  })
  .transform((regions): RegionSettings[] =>
    regions.map((r) => ({
      mcc: r.mcc,
      exportRegion: r.exportRegion,
      signingKeys: r.signingKeys && keysFrom(`REGIONS_FILE region ${r.mcc}`, r.signingKeys),
      exposureConfigurationDir: r.exposureConfigurationDir,
      diagnosisKeyRetentionDays: r.diagnosisKeyRetentionDays,
    })),
  );

/** Parses `value` with `schema`, or throws the first issue, named by `variable` and where it lies. */
function parseWith<T>(variable: string, schema: z.ZodType<T, unknown>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ConfigError(`${variable}: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
}

function readJsonFile(variable: string, file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${variable}: ${(err as Error).message}`);
  }
}

/**
 * The served regions, first the one whose codes a portal token without `@region` issues.
 * REGION and EXPORT_REGION are the short form of a one-region list (default 302=CA).
 */
export function regionSettings(v: Variables): RegionSettings[] {
  if (v.REGIONS && v.REGIONS_FILE) throw new ConfigError('REGIONS_FILE: set it or REGIONS, not both');
  if ((v.REGIONS || v.REGIONS_FILE) && (v.REGION || v.EXPORT_REGION)) {
    throw new ConfigError(`${v.REGION ? 'REGION' : 'EXPORT_REGION'}: set REGIONS or REGIONS_FILE, or REGION and EXPORT_REGION, not both`);
  }
  if (v.REGIONS_FILE) return parseWith('REGIONS_FILE', regionList, readJsonFile('REGIONS_FILE', v.REGIONS_FILE));
  if (v.REGIONS) {
    const entries = v.REGIONS.split(',').map((entry) => {
      const eq = entry.indexOf('=');
      return eq < 0 ? { mcc: entry } : { mcc: entry.slice(0, eq).trim(), exportRegion: entry.slice(eq + 1).trim() };
    });
    return parseWith('REGIONS', regionList, entries);
  }
  return [
    {
      mcc: v.REGION ?? '302',
      exportRegion: v.EXPORT_REGION ?? 'CA',
      signingKeys: undefined,
      exposureConfigurationDir: undefined,
      diagnosisKeyRetentionDays: undefined,
    },
  ];
}

/**
 * The signing keys of regions that have none of their own: SIGNING_KEYS_FILE, or ECDSA_KEY
 * with EXPORT_KEY_ID and EXPORT_KEY_VERSION as its one-key short form. Required only when
 * some region needs them.
 */
function defaultSigningKeys(v: Variables, regions: RegionSettings[]): SigningKeySettings[] {
  if (v.SIGNING_KEYS_FILE && v.ECDSA_KEY) throw new ConfigError('SIGNING_KEYS_FILE: set it or ECDSA_KEY, not both');
  if (v.SIGNING_KEYS_FILE) {
    return keysFrom('SIGNING_KEYS_FILE', parseWith('SIGNING_KEYS_FILE', signingKeyList, readJsonFile('SIGNING_KEYS_FILE', v.SIGNING_KEYS_FILE)));
  }
  if (v.ECDSA_KEY) {
    return [
      {
        ecdsaKey: v.ECDSA_KEY,
        keyId: v.EXPORT_KEY_ID,
        keyVersion: v.EXPORT_KEY_VERSION,
        notBeforeMs: undefined,
        notAfterMs: undefined,
        origin: 'ECDSA_KEY',
      },
    ];
  }
  if (regions.every((r) => r.signingKeys)) return [];
  throw new ConfigError('ECDSA_KEY: required (hex SEC1 DER P-256 private key, or a PEM file path), or SIGNING_KEYS_FILE');
}

export function retrievalSettings(v: Variables, regions: RegionSettings[] = regionSettings(v)): RetrievalSettings {
  if (!v.RETRIEVE_HMAC_KEY) throw new ConfigError('RETRIEVE_HMAC_KEY: required (hex, at least 64 characters)');
  const signingKeys = defaultSigningKeys(v, regions);
  return {
    keyRelease: v.KEY_RELEASE,
    retrieveHmacKey: v.RETRIEVE_HMAC_KEY,
    regions: regions.map((r) => ({
      mcc: r.mcc,
      exportRegion: r.exportRegion,
      signingKeys: r.signingKeys ?? signingKeys,
      exposureConfigurationDir: r.exposureConfigurationDir,
    })),
    exportSignatureAlgorithm: v.EXPORT_SIGNATURE_ALGORITHM,
    enableEntirePeriodBundle: v.ENABLE_ENTIRE_PERIOD_BUNDLE,
    disableCurrentDateCheck: v.DISABLE_CURRENT_DATE_CHECK,
    exposureConfigurationDir: v.EXPOSURE_CONFIGURATION_DIR,
    exportCacheBytes: v.EXPORT_CACHE_MB * 1024 * 1024,
    eventsUsername: v.METRICS_USERNAME,
    eventsPassword: v.METRICS_PASSWORD,
  };
}

export function purgeSettings(v: Variables, regions: RegionSettings[] = regionSettings(v)): PurgeSettings {
  const regionRetention = regions.flatMap((r) =>
    r.diagnosisKeyRetentionDays === undefined ? [] : [{ mcc: r.mcc, diagnosisKeyRetentionDays: r.diagnosisKeyRetentionDays }],
  );
  return { ...retentionRules(v), intervalMs: v.PURGE_INTERVAL_SECONDS * 1000, regionRetention };
}

export function releaseSettings(v: Variables): ReleaseSettings {
  return {
    policy: v.KEY_RELEASE,
    embargoMinutes: v.KEY_EMBARGO_MINUTES,
    minKeysPerBatch: v.EXPORT_MIN_KEYS_PER_BATCH,
    paddingJitter: v.EXPORT_PADDING_JITTER,
  };
}

/**
 * The configuration of `role`: every slice it needs, each required variable checked.
 * Retention is checked for every role, as no process may keep data past 21 days.
 */
export function loadConfig(env: Environment, role: Role): Config {
  const v = parseEnvironment(env);
  const spec = roleSpec(role);
  // Read once (REGIONS_FILE is a file), and handed to every slice that needs it.
  const regions = regionSettings(v);
  let shortRetention: string[];
  try {
    shortRetention = checkRetention(retentionRules(v), v.ALLOW_SHORT_RETENTION);
    for (const region of regions) {
      if (region.diagnosisKeyRetentionDays === undefined) continue;
      let short: string[];
      try {
        short = checkRetention({ ...retentionRules(v), diagnosisKeyRetentionDays: region.diagnosisKeyRetentionDays }, v.ALLOW_SHORT_RETENTION);
      } catch (err) {
        throw new ConfigError(`REGIONS_FILE region ${region.mcc}: ${(err as Error).message}`);
      }
      shortRetention.push(...short.filter((s) => !shortRetention.includes(s)).map((s) => `region ${region.mcc}: ${s}`));
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError((err as Error).message);
  }
  return {
    logLevel: v.LOG_LEVEL,
    database: {
      url: v.DATABASE_URL,
      readerUrl: v.DATABASE_READER_URL,
      timeouts: { queryMs: v.DATABASE_QUERY_TIMEOUT_SECONDS * 1000, connectMs: v.DATABASE_CONNECT_TIMEOUT_SECONDS * 1000 },
      embeddedPostgresPort: v.EMBEDDED_POSTGRES_PORT,
      dataDir: v.DATA_DIR ?? DEFAULT_DATA_DIR,
    },
    telemetry: {
      metricProvider: v.METRIC_PROVIDER,
      tracerProvider: v.TRACER_PROVIDER,
      prometheusPort: v.PROMETHEUS_PORT,
      metricExportIntervalMs: v.METRIC_EXPORT_INTERVAL_SECONDS * 1000,
    },
    service: serviceSettings(v),
    ...(spec.servers.includes('key-submission') ? { submission: submissionSettings(v, regions) } : {}),
    ...(spec.servers.includes('key-retrieval') ? { retrieval: retrievalSettings(v, regions) } : {}),
    ...(spec.purge !== 'never' ? { purge: purgeSettings(v, regions), release: releaseSettings(v) } : {}),
    shortRetention,
  };
}
