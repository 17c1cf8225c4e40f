import { BlockList } from 'node:net';
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

  it('match IPv4 addresses as BlockList does, at every prefix length and across the sign bit', () => {
    // A fixed walk of pseudo-random addresses and subnets, so that a failure repeats.
    let seed = 13;
    const next = () => (seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0);
    const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    for (let prefix = 0; prefix <= 32; prefix++) {
      const cidrs = [`${dotted(next())}/${prefix}`, `${dotted(next() | 0x80000000)}/${prefix}`];
      const trusted = trustedProxyMatcher(cidrs);
      const reference = new BlockList();
      for (const cidr of cidrs) reference.addSubnet(cidr.split('/')[0]!, prefix, 'ipv4');
      const network = (cidr: string) => cidr.split('/')[0]!;
      const addresses = [...cidrs.map(network), ...Array.from({ length: 200 }, () => dotted(next())), '0.0.0.0', '255.255.255.255'];
      // Neighbours of each subnet's own address too: just inside and just outside it.
      for (const cidr of cidrs) {
        const [a, b, c, d] = network(cidr).split('.').map(Number) as [number, number, number, number];
        const n = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
        addresses.push(dotted((n + 1) >>> 0), dotted((n - 1) >>> 0), dotted((n ^ (1 << (32 - Math.max(prefix, 1)))) >>> 0));
      }
      for (const address of addresses) expect(trusted(address), `${address} in ${cidrs.join(', ')}`).toBe(reference.check(address, 'ipv4'));
    }
  });

  it('know a CIDR when they see one', () => {
    expect(['10.0.0.0/8', '0.0.0.0/0', 'fc00::/7', '::1/128'].every(isCidr)).toBe(true);
    expect(['10.0.0.0', '10.0.0.0/33', '::1/129', 'ten/8', '10.0.0.0/8/8', ''].some(isCidr)).toBe(false);
  });
});
