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
  /**
   * Several regions of one deployment, each with a portal bound to it: phones are spread
   * over them (phone id modulo their number), upload through their region's portal and
   * download their region's files. Without it, one region: `region` and `portalToken`.
   */
  regions?: { mcc: string; portalToken: string }[];
  /** Moves the servers' clock, when they run in this process; undefined for remote servers. */
  setTime?: (ms: number) => void;
  /** Runs the writer's chores (purge, and sealing with batched release) at the servers' clock; in-process servers only. */
  runChores?: () => Promise<void>;
  /** KEY_EMBARGO_MINUTES of in-process servers with batched release: how long after its end a key waits. */
  embargoMinutes?: number;
}
