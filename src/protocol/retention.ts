// How long everything lives (protocol §9): numbers in, cut-off times out. The stores use
// these to decide what is still valid, and the purge to decide what goes, so the two can
// never disagree about a boundary.
import { dateNumber, utcDate } from './time.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Nothing is kept past 21 days, statistics included (they carry no personal data). */
export const MAX_RETENTION_DAYS = 21;

export interface RetentionRules {
  /** Days of submission hours kept before today's. */
  diagnosisKeyRetentionDays: number;
  /** A claimed keypair may upload for this long after the midnight of its claim. */
  encryptionKeyValidityDays: number;
  /** An unclaimed one-time code lives this long. */
  oneTimeCodeExpiryMinutes: number;
  /** A client's failed claims count for this long after the last one. */
  claimKeyBanDurationMs: number;
  /** A keypair's quota; still whole means it never uploaded. */
  initialRemainingKeys: number;
  /** How long a claim may be repeated to recover a lost answer; 0: never. */
  claimReplayMinutes: number;
}

/** The protocol's own values. */
export const PROTOCOL_RETENTION = {
  diagnosisKeyRetentionDays: 15,
  encryptionKeyValidityDays: 15,
  oneTimeCodeExpiryMinutes: 1440,
  claimKeyBanDurationMs: HOUR_MS,
} as const;

/** Codes created after this are live; at or before it they have expired. */
export function oneTimeCodesCreatedAfter(nowMs: number, rules: Pick<RetentionRules, 'oneTimeCodeExpiryMinutes'>): Date {
  return new Date(nowMs - rules.oneTimeCodeExpiryMinutes * MINUTE_MS);
}

/** Keypairs created (moved to their claim's midnight) after this may upload; older ones have expired. */
export function keypairsCreatedAfter(nowMs: number, rules: Pick<RetentionRules, 'encryptionKeyValidityDays'>): Date {
  return new Date(nowMs - rules.encryptionKeyValidityDays * DAY_MS);
}

/** The first submission hour kept: (D − retention) · 24, for today's date number D. */
export function firstSubmissionHourKept(nowMs: number, rules: Pick<RetentionRules, 'diagnosisKeyRetentionDays'>): number {
  return (dateNumber(nowMs) - rules.diagnosisKeyRetentionDays) * 24;
}

/** A client's failure counter whose last failure is at or before this has lapsed. */
export function claimFailuresLapsedAtOrBefore(nowMs: number, rules: Pick<RetentionRules, 'claimKeyBanDurationMs'>): Date {
  return new Date(nowMs - rules.claimKeyBanDurationMs);
}

/** Claims made after this may still be repeated; what recognises older ones is forgotten. */
export function claimReplaysAfter(nowMs: number, rules: Pick<RetentionRules, 'claimReplayMinutes'>): Date {
  return new Date(nowMs - rules.claimReplayMinutes * MINUTE_MS);
}

/** The first statistics date kept (YYYY-MM-DD). */
export function firstStatisticsDateKept(nowMs: number): string {
  return utcDate(nowMs - MAX_RETENTION_DAYS * DAY_MS);
}

/** Whole hours a code lived from its creation to its claim. */
export function hoursLived(createdMs: number, claimedMs: number): number {
  return Math.max(0, Math.floor((claimedMs - createdMs) / HOUR_MS));
}

/**
 * Nothing may be kept past 21 days. Shorter than the protocol is allowed only on purpose
 * (`allowShort`): phones that have not yet downloaded a key, or a patient who has not yet
 * uploaded, would lose it. Throws, naming the setting, for what is refused; returns the
 * settings that are shorter than the protocol's.
 */
export function checkRetention(rules: RetentionRules, allowShort: boolean): string[] {
  // A key submitted in hour (D−R)·24 is kept until day D+R+1 begins: up to R+1 days.
  const settings = [
    {
      name: 'MAX_DIAGNOSIS_KEY_RETENTION_DAYS',
      value: rules.diagnosisKeyRetentionDays,
      protocol: PROTOCOL_RETENTION.diagnosisKeyRetentionDays,
      keptDays: rules.diagnosisKeyRetentionDays + 1,
    },
    {
      name: 'ENCRYPTION_KEY_VALIDITY_DAYS',
      value: rules.encryptionKeyValidityDays,
      protocol: PROTOCOL_RETENTION.encryptionKeyValidityDays,
      keptDays: rules.encryptionKeyValidityDays,
    },
    {
      name: 'ONE_TIME_CODE_EXPIRY_IN_MINUTES',
      value: rules.oneTimeCodeExpiryMinutes,
      protocol: PROTOCOL_RETENTION.oneTimeCodeExpiryMinutes,
      keptDays: (rules.oneTimeCodeExpiryMinutes * MINUTE_MS) / DAY_MS,
    },
    {
      name: 'CLAIM_KEY_BAN_DURATION_HOURS',
      value: rules.claimKeyBanDurationMs / HOUR_MS,
      protocol: PROTOCOL_RETENTION.claimKeyBanDurationMs / HOUR_MS,
      keptDays: rules.claimKeyBanDurationMs / DAY_MS,
    },
  ];
  const short: string[] = [];
  for (const s of settings) {
    if (s.keptDays > MAX_RETENTION_DAYS) throw new Error(`${s.name}: ${s.value} would keep data past ${MAX_RETENTION_DAYS} days`);
    if (s.value < s.protocol) {
      if (!allowShort)
        throw new Error(`${s.name}: ${s.value} is shorter than the protocol's ${s.protocol}; set ALLOW_SHORT_RETENTION=true to mean it`);
      short.push(`${s.name}=${s.value} (protocol: ${s.protocol})`);
    }
  }
  return short;
}
