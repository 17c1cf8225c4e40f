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

/** A test of an address (IPv4, IPv6, or IPv4 mapped into IPv6) against the CIDRs. */
export function trustedProxyMatcher(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefix = ''] = cidr.split('/');
    list.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6');
  }
  return (address) => (isIPv4(address) ? list.check(address, 'ipv4') : isIPv6(address) && list.check(address, 'ipv6'));
}
