// Environment → one typed, validated Config. Nothing else in the program reads process.env.
import { z } from 'zod';

export type Role = 'key-submission' | 'key-retrieval' | 'migrate' | 'purge' | 'purger' | 'all';

export interface ClaimToken {
  token: string;
  /** What statistics record as the originator of codes issued with this token. */
  label: string;
}

/** Where a server listens; each part left undefined takes the role's default. */
export interface ListenAddress {
  host: string | undefined;
  port: number | undefined;
}

export interface Config {
  /** Postgres URL; undefined means "start the embedded Postgres". */
  databaseUrl: string | undefined;
  claimTokens: ClaimToken[];
  retrieveHmacKey: Buffer | undefined;
  ecdsaKey: string | undefined;
  metricsUsername: string | undefined;
  metricsPassword: string | undefined;
  metricProvider: 'stdout' | 'pretty' | 'prometheus' | undefined;
  tracerProvider: 'stdout' | 'pretty' | undefined;
  /** Port of /metrics with METRIC_PROVIDER=prometheus. */
  prometheusPort: number;
  /** How often the stdout and pretty metric providers print. */
  metricExportIntervalMs: number;
  /** From BIND_ADDR, or HOST and PORT. */
  listen: ListenAddress;
  enableTestTools: boolean;
  environment: string;
  logLevel: string;
  /** How many proxies in front of us append to X-Forwarded-For (protocol §6). */
  trustedProxyHops: number;
  corsAllowOrigin: string;
  region: string;
  maxConsecutiveClaimKeyFailures: number;
  claimKeyBanDurationMs: number;
  diagnosisKeyRetentionDays: number;
  initialRemainingKeys: number;
  encryptionKeyValidityDays: number;
  oneTimeCodeExpiryMinutes: number;
  purgeIntervalMs: number;
  enableEntirePeriodBundle: boolean;
  disableCurrentDateCheck: boolean;
  /** Export files: region label and the signature info Apple and Google registered. */
  exportRegion: string;
  exportKeyId: string;
  exportKeyVersion: string;
  exportSignatureAlgorithm: string;
  exposureConfigurationDir: string | undefined;
  exportCacheBytes: number;
  /** Retention settings below the protocol's, allowed by ALLOW_SHORT_RETENTION; logged at start. */
  shortRetention: string[];
  embeddedPostgresPort: number;
  dataDir: string;
  build: { branch: string; revision: string };
}

/** Thrown for a missing or malformed variable; its message names the variable. */
export class ConfigError extends Error {}

const TOKEN = /^[\x21-\x7e]{20,63}$/;

const claimTokens = z.string().transform((raw, ctx): ClaimToken[] => {
  const tokens: ClaimToken[] = [];
  for (const pair of raw.split(':')) {
    const eq = pair.indexOf('=');
    const token = eq < 0 ? '' : pair.slice(0, eq);
    const label = eq < 0 ? '' : pair.slice(eq + 1);
    if (!TOKEN.test(token) || token.includes('=')) {
      ctx.addIssue({ code: 'custom', message: 'each entry must be token=label with a token of 20 to 63 printable characters' });
      return z.NEVER;
    }
    if (label.length < 1 || label.length > 31) {
      ctx.addIssue({ code: 'custom', message: 'each label must be 1 to 31 characters' });
      return z.NEVER;
    }
    tokens.push({ token, label });
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
const positiveInt = z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().positive());
const port = z.string().regex(/^\d+$/, 'must be a port number').transform(Number).pipe(z.number().int().min(0).max(65535));

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

const optional = <T extends z.ZodTypeAny>(schema: T) => schema.optional();

const schema = z.object({
  DATABASE_URL: optional(z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')),
  KEY_CLAIM_TOKEN: optional(claimTokens),
  RETRIEVE_HMAC_KEY: optional(hexKey(64)),
  ECDSA_KEY: optional(z.string().min(1)),
  METRICS_USERNAME: optional(z.string().min(10, 'must be at least 10 characters')),
  METRICS_PASSWORD: optional(z.string().min(10, 'must be at least 10 characters')),
  METRIC_PROVIDER: optional(z.enum(['stdout', 'pretty', 'prometheus'])),
  TRACER_PROVIDER: optional(z.enum(['stdout', 'pretty'])),
  PROMETHEUS_PORT: optional(port),
  METRIC_EXPORT_INTERVAL_SECONDS: optional(positiveInt),
  BIND_ADDR: optional(bindAddr),
  PORT: optional(port),
  HOST: optional(z.string().min(1)),
  ENABLE_TEST_TOOLS: optional(flag),
  ENV: optional(z.string()),
  LOG_LEVEL: optional(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
  TRUSTED_PROXY_HOPS: optional(z.string().regex(/^\d+$/, 'must be a whole number').transform(Number)),
  CORS_ACCESS_CONTROL_ALLOW_ORIGIN: optional(z.string().min(1)),
  REGION: optional(z.string().regex(/^\d{3}$/, 'must be 3 digits')),
  MAX_CONSECUTIVE_CLAIM_KEY_FAILURES: optional(positiveInt.pipe(z.number().max(32767))),
  CLAIM_KEY_BAN_DURATION_HOURS: optional(positiveInt),
  MAX_DIAGNOSIS_KEY_RETENTION_DAYS: optional(positiveInt),
  INITIAL_REMAINING_KEYS: optional(positiveInt.pipe(z.number().max(32767))),
  ENCRYPTION_KEY_VALIDITY_DAYS: optional(positiveInt),
  ONE_TIME_CODE_EXPIRY_IN_MINUTES: optional(positiveInt),
  PURGE_INTERVAL_SECONDS: optional(positiveInt),
  ALLOW_SHORT_RETENTION: optional(flag),
  ENABLE_ENTIRE_PERIOD_BUNDLE: optional(flag),
  DISABLE_CURRENT_DATE_CHECK: optional(flag),
  EXPORT_REGION: optional(z.string().min(1)),
  EXPORT_KEY_ID: optional(z.string().min(1)),
  EXPORT_KEY_VERSION: optional(z.string().min(1)),
  EXPORT_SIGNATURE_ALGORITHM: optional(z.string().min(1)),
  EXPOSURE_CONFIGURATION_DIR: optional(z.string().min(1)),
  EXPORT_CACHE_MB: optional(positiveInt),
  EMBEDDED_POSTGRES_PORT: optional(port),
  DATA_DIR: optional(z.string().min(1)),
  BUILD_BRANCH: optional(z.string()),
  BUILD_REVISION: optional(z.string()),
});

export type Environment = Record<string, string | undefined>;

/** Parses the environment once. Empty strings count as unset, as shells often export them. */
export function loadConfig(env: Environment, defaultDataDir: string): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  const e = result.data;
  const config: Config = {
    databaseUrl: e.DATABASE_URL,
    claimTokens: e.KEY_CLAIM_TOKEN ?? [],
    retrieveHmacKey: e.RETRIEVE_HMAC_KEY,
    ecdsaKey: e.ECDSA_KEY,
    metricsUsername: e.METRICS_USERNAME,
    metricsPassword: e.METRICS_PASSWORD,
    metricProvider: e.METRIC_PROVIDER,
    tracerProvider: e.TRACER_PROVIDER,
    prometheusPort: e.PROMETHEUS_PORT ?? 2222,
    metricExportIntervalMs: (e.METRIC_EXPORT_INTERVAL_SECONDS ?? 60) * 1000,
    listen: e.BIND_ADDR ?? { host: e.HOST, port: e.PORT },
    enableTestTools: e.ENABLE_TEST_TOOLS ?? false,
    environment: e.ENV ?? 'development',
    logLevel: e.LOG_LEVEL ?? 'info',
    trustedProxyHops: e.TRUSTED_PROXY_HOPS ?? 1,
    corsAllowOrigin: e.CORS_ACCESS_CONTROL_ALLOW_ORIGIN ?? '*',
    region: e.REGION ?? '302',
    maxConsecutiveClaimKeyFailures: e.MAX_CONSECUTIVE_CLAIM_KEY_FAILURES ?? 50,
    claimKeyBanDurationMs: (e.CLAIM_KEY_BAN_DURATION_HOURS ?? 1) * 3_600_000,
    diagnosisKeyRetentionDays: e.MAX_DIAGNOSIS_KEY_RETENTION_DAYS ?? 15,
    initialRemainingKeys: e.INITIAL_REMAINING_KEYS ?? 43,
    encryptionKeyValidityDays: e.ENCRYPTION_KEY_VALIDITY_DAYS ?? 15,
    oneTimeCodeExpiryMinutes: e.ONE_TIME_CODE_EXPIRY_IN_MINUTES ?? 1440,
    purgeIntervalMs: (e.PURGE_INTERVAL_SECONDS ?? 30) * 1000,
    enableEntirePeriodBundle: e.ENABLE_ENTIRE_PERIOD_BUNDLE ?? true,
    disableCurrentDateCheck: e.DISABLE_CURRENT_DATE_CHECK ?? true,
    exportRegion: e.EXPORT_REGION ?? 'CA',
    exportKeyId: e.EXPORT_KEY_ID ?? '302',
    exportKeyVersion: e.EXPORT_KEY_VERSION ?? 'v1',
    exportSignatureAlgorithm: e.EXPORT_SIGNATURE_ALGORITHM ?? '1.2.840.10045.4.3.2',
    exposureConfigurationDir: e.EXPOSURE_CONFIGURATION_DIR,
    exportCacheBytes: (e.EXPORT_CACHE_MB ?? 256) * 1024 * 1024,
    shortRetention: [],
    embeddedPostgresPort: e.EMBEDDED_POSTGRES_PORT ?? 54320,
    dataDir: e.DATA_DIR ?? defaultDataDir,
    build: { branch: e.BUILD_BRANCH ?? 'unknown', revision: e.BUILD_REVISION ?? 'unknown' },
  };
  config.shortRetention = checkRetention(config, e.ALLOW_SHORT_RETENTION ?? false);
  if (config.enableTestTools && config.environment === 'production') {
    throw new ConfigError('ENABLE_TEST_TOOLS: test tools are refused when ENV=production');
  }
  return config;
}

const MAX_RETENTION_DAYS = 21;

/**
 * Nothing may be kept past 21 days. Shorter than the protocol is allowed only on purpose
 * (ALLOW_SHORT_RETENTION=true): phones that have not yet downloaded a key, or a patient
 * who has not yet uploaded, would lose it. Returns the settings that are shorter.
 */
function checkRetention(config: Config, allowShort: boolean): string[] {
  // A key submitted in hour (D−R)·24 is kept until day D+R+1 begins: up to R+1 days.
  const settings = [
    { name: 'MAX_DIAGNOSIS_KEY_RETENTION_DAYS', value: config.diagnosisKeyRetentionDays, protocol: 15, keptDays: config.diagnosisKeyRetentionDays + 1 },
    { name: 'ENCRYPTION_KEY_VALIDITY_DAYS', value: config.encryptionKeyValidityDays, protocol: 15, keptDays: config.encryptionKeyValidityDays },
    { name: 'ONE_TIME_CODE_EXPIRY_IN_MINUTES', value: config.oneTimeCodeExpiryMinutes, protocol: 1440, keptDays: config.oneTimeCodeExpiryMinutes / 1440 },
    { name: 'CLAIM_KEY_BAN_DURATION_HOURS', value: config.claimKeyBanDurationMs / 3_600_000, protocol: 1, keptDays: config.claimKeyBanDurationMs / 86_400_000 },
  ];
  const short: string[] = [];
  for (const s of settings) {
    if (s.keptDays > MAX_RETENTION_DAYS) throw new ConfigError(`${s.name}: ${s.value} would keep data past ${MAX_RETENTION_DAYS} days`);
    if (s.value < s.protocol) {
      if (!allowShort) throw new ConfigError(`${s.name}: ${s.value} is shorter than the protocol's ${s.protocol}; set ALLOW_SHORT_RETENTION=true to mean it`);
      short.push(`${s.name}=${s.value} (protocol: ${s.protocol})`);
    }
  }
  return short;
}

/** Checks what a role cannot run without; the message names the variable. */
export function requireForRole(config: Config, role: Role): void {
  if ((role === 'key-submission' || role === 'all') && config.claimTokens.length === 0) {
    throw new ConfigError('KEY_CLAIM_TOKEN: required (token=label[:token=label…])');
  }
  if (role === 'key-retrieval' || role === 'all') {
    if (!config.retrieveHmacKey) throw new ConfigError('RETRIEVE_HMAC_KEY: required (hex, at least 64 characters)');
    if (!config.ecdsaKey) throw new ConfigError('ECDSA_KEY: required (hex SEC1 DER P-256 private key, or a PEM file path)');
  }
}
