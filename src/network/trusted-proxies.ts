// Which peers are proxies whose X-Forwarded-For entries may be believed (protocol §6).
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** The private and loopback ranges: where a load balancer inside a VPC, or a local proxy, sits. */
export const DEFAULT_TRUSTED_PROXIES = ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '::1/128', 'fc00::/7'];

/** Whether `cidr` is an IPv4 or IPv6 address with a prefix length that fits it. */
export function isCidr(cidr: string): boolean {
  const [address = '', prefix, ...rest] = cidr.split('/');
  if (rest.length > 0 || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  return (isIPv4(address) && Number(prefix) <= 32) || (isIPv6(address) && Number(prefix) <= 128);
}

/** An IPv4 address (as isIPv4 accepts it) as a 32-bit number. */
function ipv4Number(address: string): number {
  const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/**
 * A test of an address (IPv4, IPv6, or IPv4 mapped into IPv6) against the CIDRs. Every
 * claim asks it twice or more (its peer, then the X-Forwarded-For entries): a plain IPv4
 * address is matched here by its number, since BlockList makes an object for every check
 * (a few per cent of a claim's CPU); the rest goes to BlockList.
 */
export function trustedProxyMatcher(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  const ipv4: { network: number; mask: number }[] = [];
  for (const cidr of cidrs) {
    const [address = '', prefix = ''] = cidr.split('/');
    const bits = Number(prefix);
    const v4 = isIPv4(address);
    list.addSubnet(address, bits, v4 ? 'ipv4' : 'ipv6');
    if (v4) {
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      ipv4.push({ network: (ipv4Number(address) & mask) >>> 0, mask });
    }
  }
  return (address) => {
    if (isIPv4(address)) {
      const n = ipv4Number(address);
      return ipv4.some(({ network, mask }) => (n & mask) >>> 0 === network);
    }
    return isIPv6(address) && list.check(address, 'ipv6');
  };
}
