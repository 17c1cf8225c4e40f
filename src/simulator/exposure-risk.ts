// Deciding whom to notify from matched exposures, with the exposure configuration the app
// downloads (CA.json): the EN v1 risk score (a product of level values for attenuation,
// days since exposure, duration and transmission risk) and COVID Alert's rule that enough
// minutes were spent close by (below the second attenuation threshold).

export interface ExposureConfiguration {
  minimumRiskScore: number;
  attenuationDurationThresholds: [number, number];
  attenuationLevelValues: number[];
  daysSinceLastExposureLevelValues: number[];
  durationLevelValues: number[];
  transmissionRiskLevelValues: number[];
  minimumExposureDurationMinutes: number;
}

/** One matched key: every interval in which the phone heard one of its identifiers. */
export interface Exposure {
  daysSinceExposure: number;
  transmissionRiskLevel: number;
  /** Attenuation (dB) of each heard interval; each interval counts as 10 minutes. */
  attenuations: number[];
}

export const MINUTES_PER_INTERVAL = 10;

/** EN v1 buckets, from the lowest level (index 0) to the highest (index 7). */
function attenuationLevel(db: number): number {
  const upper = [Infinity, 73, 63, 51, 33, 27, 15, 10];
  let level = 0;
  for (let i = 1; i < upper.length; i++) if (db <= upper[i]!) level = i;
  return level;
}

function daysLevel(days: number): number {
  return days >= 14 ? 0 : 7 - Math.floor(days / 2);
}

function durationLevel(minutes: number): number {
  if (minutes <= 0) return 0;
  return Math.min(7, Math.ceil(minutes / 5));
}

export function riskScore(config: ExposureConfiguration, exposure: Exposure): number {
  const minutes = exposure.attenuations.length * MINUTES_PER_INTERVAL;
  const mean = exposure.attenuations.reduce((a, b) => a + b, 0) / Math.max(1, exposure.attenuations.length);
  return (
    config.attenuationLevelValues[attenuationLevel(mean)]! *
    config.daysSinceLastExposureLevelValues[daysLevel(exposure.daysSinceExposure)]! *
    config.durationLevelValues[durationLevel(minutes)]! *
    config.transmissionRiskLevelValues[Math.min(7, Math.max(0, exposure.transmissionRiskLevel))]!
  );
}

export function shouldNotify(config: ExposureConfiguration, exposures: Exposure[]): boolean {
  return exposures.some((exposure) => {
    const closeMinutes = exposure.attenuations.filter((db) => db < config.attenuationDurationThresholds[1]).length * MINUTES_PER_INTERVAL;
    return riskScore(config, exposure) >= config.minimumRiskScore && closeMinutes >= config.minimumExposureDurationMinutes;
  });
}
