import { describe, expect, it } from 'vitest';
import { hmacAuthorised, keyWindow, retrieveHmac } from '../../src/protocol/retrieve.js';

const KEY = Buffer.from('3631313045444b345742464633504e44524a3457494855505639593136464a3846584d4c59334d30', 'hex');
const rules = { enableEntirePeriodBundle: true, disableCurrentDateCheck: true };

describe('retrieve HMAC', () => {
  it('reproduces the published vector', () => {
    expect(retrieveHmac(KEY, '302', '00000', 443845).toString('hex')).toBe('cc0b17155fe1d642495dfc1dd0230c33573def6c35a33b61260306d797637e33');
  });

  it('accepts the hour before, of and after now, in either case of hex', () => {
    const mac = 'cc0b17155fe1d642495dfc1dd0230c33573def6c35a33b61260306d797637e33';
    const hourStart = 443845 * 3_600_000;
    expect(hmacAuthorised(mac, KEY, '302', '00000', hourStart)).toBe(true);
    expect(hmacAuthorised(mac.toUpperCase(), KEY, '302', '00000', hourStart)).toBe(true);
    expect(hmacAuthorised(mac, KEY, '302', '00000', hourStart - 1)).toBe(true);
    expect(hmacAuthorised(mac, KEY, '302', '00000', hourStart + 2 * 3_600_000 - 1)).toBe(true);
    expect(hmacAuthorised(mac, KEY, '302', '00000', hourStart - 3_600_001)).toBe(false);
    expect(hmacAuthorised(mac, KEY, '302', '00000', hourStart + 2 * 3_600_000)).toBe(false);
    expect(hmacAuthorised(mac, KEY, '303', '00000', hourStart)).toBe(false);
    expect(hmacAuthorised(mac.slice(2), KEY, '302', '00000', hourStart)).toBe(false);
  });
});

describe('key windows', () => {
  const today = 20_000;
  const now = today * 86_400_000 + 5 * 3_600_000;

  it('bundles D−15 … D−1', () => {
    const decision = keyWindow('00000', now, rules);
    expect(decision).toEqual({
      ok: true,
      window: {
        firstHour: (today - 15) * 24,
        endHour: today * 24,
        minRollingStartIntervalExclusive: today * 144 - 14 * 144,
        startTimestamp: (today - 15) * 86_400,
        endTimestamp: today * 86_400,
      },
    });
  });

  it('serves one day by its number, within D−14 … D', () => {
    expect(keyWindow(String(today - 14), now, rules)).toMatchObject({
      ok: true,
      window: { firstHour: (today - 14) * 24, endHour: (today - 13) * 24 },
    });
    expect(keyWindow(String(today - 15), now, rules)).toEqual({ ok: false, status: 410, message: 'requested data no longer valid' });
    expect(keyWindow(String(today + 1), now, rules)).toEqual({ ok: false, status: 404, message: 'cannot request future data' });
    expect(keyWindow(String(today), now, rules).ok).toBe(true);
    expect(keyWindow(String(today), now, { ...rules, disableCurrentDateCheck: false })).toEqual({
      ok: false,
      status: 404,
      message: 'cannot serve data for current period for privacy reasons',
    });
  });

  it('treats 00000 as day zero when the bundle is off', () => {
    expect(keyWindow('00000', now, { ...rules, enableEntirePeriodBundle: false })).toMatchObject({ ok: false, status: 410 });
  });
});
