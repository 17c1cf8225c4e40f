import { describe, expect, it } from 'vitest';
import { claimStanding, clientAddress } from '../../src/protocol/claim-ban.js';

const rules = { maxFailures: 50, banMs: 3_600_000 };
const now = 1_700_000_000_000;

describe('claim standing', () => {
  it('gives a client with no counter every try', () => {
    expect(claimStanding(undefined, now, rules)).toEqual({ banned: false, triesRemaining: 50, remainingBanMs: 0 });
  });

  it('counts tries down and bans at the limit for the rest of the hour', () => {
    expect(claimStanding({ failures: 49, lastFailureMs: now }, now, rules)).toEqual({ banned: false, triesRemaining: 1, remainingBanMs: 0 });
    expect(claimStanding({ failures: 50, lastFailureMs: now - 1000 }, now, rules)).toEqual({
      banned: true,
      triesRemaining: 0,
      remainingBanMs: 3_599_000,
    });
    expect(claimStanding({ failures: 120, lastFailureMs: now }, now, rules).triesRemaining).toBe(0);
  });

  it('starts afresh once the last failure is a ban length old', () => {
    expect(claimStanding({ failures: 50, lastFailureMs: now - 3_600_000 }, now, rules).banned).toBe(false);
    expect(claimStanding({ failures: 50, lastFailureMs: now - 3_599_999 }, now, rules).banned).toBe(true);
    expect(claimStanding({ failures: 10, lastFailureMs: now - 3_600_000 }, now, rules).triesRemaining).toBe(50);
  });
});

describe('client address', () => {
  it('takes the entry the trusted proxies appended, never one the client wrote', () => {
    expect(clientAddress('6.6.6.6, 203.0.113.9', '10.0.0.1', 1)).toBe('203.0.113.9');
    expect(clientAddress('6.6.6.6, 203.0.113.9, 10.0.0.7', '10.0.0.1', 2)).toBe('203.0.113.9');
    expect(clientAddress('203.0.113.9', '10.0.0.1', 1)).toBe('203.0.113.9');
  });

  it('falls back to the socket address without a header, without proxies, or with too short a chain', () => {
    expect(clientAddress(undefined, '10.0.0.1', 1)).toBe('10.0.0.1');
    expect(clientAddress('6.6.6.6', '10.0.0.1', 0)).toBe('10.0.0.1');
    expect(clientAddress('203.0.113.9', '10.0.0.1', 2)).toBe('10.0.0.1');
    expect(clientAddress('6.6.6.6, ', '10.0.0.1', 1)).toBe('10.0.0.1');
  });

  it('believes an entry only when the address that wrote it is a trusted proxy', () => {
    const proxies =
      (...trusted: string[]) =>
      (address: string) =>
        trusted.includes(address);
    // Straight from the internet: whatever the client writes, its socket address counts.
    expect(clientAddress('10.9.9.9', '203.0.113.9', 1, proxies('10.0.0.1'))).toBe('203.0.113.9');
    expect(clientAddress('6.6.6.6, 203.0.113.9', '10.0.0.1', 1, proxies('10.0.0.1'))).toBe('203.0.113.9');
    // Two hops: the second entry counts only when the first proxy's entry is a proxy too.
    expect(clientAddress('6.6.6.6, 203.0.113.9, 10.0.0.7', '10.0.0.1', 2, proxies('10.0.0.1', '10.0.0.7'))).toBe('203.0.113.9');
    expect(clientAddress('6.6.6.6, 203.0.113.9, 198.51.100.7', '10.0.0.1', 2, proxies('10.0.0.1'))).toBe('198.51.100.7');
  });
});
