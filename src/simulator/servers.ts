// The servers a simulation runs against.
import type { KeyObject } from 'node:crypto';

export interface Servers {
  submissionUrl: string;
  retrievalUrl: string;
  /** A health portal's bearer token. */
  portalToken: string;
  hmacKey: Buffer;
  /** The key files' verification key. */
  publicKey: KeyObject;
  region?: string;
  /** Moves the servers' clock, when they run in this process; undefined for remote servers. */
  setTime?: (ms: number) => void;
}
