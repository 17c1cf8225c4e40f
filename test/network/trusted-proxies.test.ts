import { describe, expect, it } from 'vitest';
import { DEFAULT_TRUSTED_PROXIES, isCidr, trustedProxyMatcher } from '../../src/network/trusted-proxies.js';

describe('trusted proxies', () => {
  it('trust loopback and the private ranges by default, IPv4 mapped into IPv6 included', () => {
    const trusted = trustedProxyMatcher(DEFAULT_TRUSTED_PROXIES);
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '::1',
      'fd12::1',
      '::ffff:10.1.2.3',
      '::ffff:127.0.0.1',
    ]) {
      expect(trusted(address), address).toBe(true);
    }
    for (const address of ['8.8.8.8', '172.32.0.1', '192.169.0.1', '2001:db8::1', '::ffff:8.8.8.8', '', 'not an address']) {
      expect(trusted(address), address).toBe(false);
    }
  });

  it('trust exactly the CIDRs given', () => {
    const trusted = trustedProxyMatcher(['203.0.113.0/24']);
    expect(trusted('203.0.113.77')).toBe(true);
    expect(trusted('127.0.0.1')).toBe(false);
  });

  it('know a CIDR when they see one', () => {
    expect(['10.0.0.0/8', '0.0.0.0/0', 'fc00::/7', '::1/128'].every(isCidr)).toBe(true);
    expect(['10.0.0.0', '10.0.0.0/33', '::1/129', 'ten/8', '10.0.0.0/8/8', ''].some(isCidr)).toBe(false);
  });
});
