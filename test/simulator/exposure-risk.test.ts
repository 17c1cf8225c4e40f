import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { riskScore, shouldNotify, type ExposureConfiguration } from '../../src/simulator/exposure-risk.js';

const CA = JSON.parse(readFileSync(new URL('../../exposure-configuration/CA.json', import.meta.url), 'utf8')) as ExposureConfiguration;
const minutes = (n: number, db: number) => Array.from({ length: n / 10 }, () => db);

describe('exposure risk with the default CA.json', () => {
  it('scores attenuation × days × duration × transmission levels', () => {
    // Close (≤ 63 dB → 8), yesterday (→ 1), 20 minutes (→ 4), TRL 1 (→ 1): 32.
    expect(riskScore(CA, { daysSinceExposure: 1, transmissionRiskLevel: 1, attenuations: minutes(20, 55) })).toBe(32);
    // Far (> 73 dB → 1): 4.
    expect(riskScore(CA, { daysSinceExposure: 1, transmissionRiskLevel: 1, attenuations: minutes(20, 75) })).toBe(4);
    // Fifteen days ago counts for nothing.
    expect(riskScore(CA, { daysSinceExposure: 15, transmissionRiskLevel: 1, attenuations: minutes(60, 40) })).toBe(0);
  });

  it('notifies for 20 close minutes, not for 10, nor for far ones', () => {
    expect(shouldNotify(CA, [{ daysSinceExposure: 2, transmissionRiskLevel: 1, attenuations: minutes(20, 55) }])).toBe(true);
    expect(shouldNotify(CA, [{ daysSinceExposure: 2, transmissionRiskLevel: 1, attenuations: minutes(10, 55) }])).toBe(false);
    expect(shouldNotify(CA, [{ daysSinceExposure: 2, transmissionRiskLevel: 1, attenuations: minutes(60, 70) }])).toBe(false);
    expect(shouldNotify(CA, [])).toBe(false);
  });
});
