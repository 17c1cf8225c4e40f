// Brute-force protection of /claim-key (protocol §6): where a client stands, from its
// failure counter.

export interface BanRules {
  maxFailures: number;
  banMs: number;
}

export interface FailureCounter {
  failures: number;
  lastFailureMs: number;
}

export interface ClaimStanding {
  banned: boolean;
  triesRemaining: number;
  /** Ban time left; 0 when not banned. */
  remainingBanMs: number;
}

export function claimStanding(counter: FailureCounter | undefined, nowMs: number, rules: BanRules): ClaimStanding {
  // A counter whose last failure is a ban length ago has lapsed: the client starts afresh.
  if (!counter || counter.lastFailureMs + rules.banMs <= nowMs) {
    return { banned: false, triesRemaining: rules.maxFailures, remainingBanMs: 0 };
  }
  const triesRemaining = Math.max(0, rules.maxFailures - counter.failures);
  if (triesRemaining > 0) return { banned: false, triesRemaining, remainingBanMs: 0 };
  return { banned: true, triesRemaining: 0, remainingBanMs: counter.lastFailureMs + rules.banMs - nowMs };
}

/**
 * The client address that counts (protocol §6): `hops` entries from the right of
 * X-Forwarded-For, since each trusted proxy appends the address it saw. Entries further
 * left were written by the client and are never used. With fewer entries than proxies,
 * or no proxies, the socket address is the only one that cannot be forged.
 *
 * An entry is believed only when the address to its right, the one that wrote it, is a
 * proxy (`isTrustedProxy`): a client that reaches the server directly gets its own socket
 * address whatever it writes, and can neither dodge its ban nor get another address banned.
 */
export function clientAddress(
  forwardedFor: string | undefined,
  socketAddress: string,
  hops: number,
  isTrustedProxy: (address: string) => boolean = () => true,
): string {
  if (hops === 0 || !forwardedFor) return socketAddress;
  const entries = forwardedFor.split(',').map((e) => e.trim());
  if (entries.length < hops) return socketAddress;
  let address = socketAddress;
  for (let hop = 1; hop <= hops; hop++) {
    if (!isTrustedProxy(address)) return address;
    const entry = entries[entries.length - hop];
    if (!entry) return socketAddress;
    address = entry;
  }
  return address;
}
