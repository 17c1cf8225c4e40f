// Lets concurrent requests share one database round trip, and for writes one commit. A
// call never waits for company: when fewer than `maxInFlight` groups are running, a group
// starts in the same turn of the event loop (taking every call that arrived in that turn);
// otherwise the call waits for the first group to end, and the next group, which starts
// then, takes everyone who waited (up to `maxSize`). Alone, a call costs what it did; under
// load, one round trip carries up to `maxSize` of them.
//
// `run` gets the inputs of one group and returns one output per input, in order. When it
// throws, every call of that group gets the error: none of them is acknowledged.

import { AsyncResource } from 'node:async_hooks';
import { isRetryableConflict } from './pool.js';

export interface GroupLimits {
  maxSize: number;
  maxInFlight: number;
}

interface Waiting<In, Out> {
  input: In;
  /**
   * The caller's async context (its trace span, for one), in which its group runs; only for
   * a call that will head a group.
   */
  callerContext: AsyncResource | undefined;
  joined: ((groupSize: number) => void) | undefined;
  resolve: (output: Out) => void;
  reject: (err: unknown) => void;
}

export class CommitGroups<In, Out> {
  private readonly waiting: Waiting<In, Out>[] = [];
  private inFlight = 0;
  private startScheduled = false;

  constructor(
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    private readonly limits: GroupLimits,
    /** Told the size of every group as it starts (a metric). */
    private readonly onGroup: (size: number) => void = () => {},
  ) {}

  /** `joined` is told the size of the group the call goes in, as it starts (a trace span). */
  call(input: In, joined?: (groupSize: number) => void): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      // Groups are cut from the front maxSize at a time (or the whole queue when shorter),
      // so the calls that will head one are those at a multiple of maxSize.
      const headsAGroup = this.waiting.length % this.limits.maxSize === 0;
      // A resource entered for the run, not AsyncResource.bind nor AsyncLocalStorage.snapshot
      // (which binds too, on Node 20): each bound function gets a deprecation wrapper there,
      // 11 µs a call against 0.1 µs, and 2.5% of a claim's CPU.
      const callerContext = headsAGroup ? new AsyncResource('CommitGroup') : undefined;
      this.waiting.push({ input, resolve, reject, callerContext, joined });
      if (this.inFlight + (this.startScheduled ? 1 : 0) < this.limits.maxInFlight) this.scheduleStart();
    });
  }

  private scheduleStart(): void {
    if (this.startScheduled) return;
    this.startScheduled = true;
    // Calls that arrive in this turn (requests read off several sockets at once) join in.
    setImmediate(() => {
      this.startScheduled = false;
      this.start();
    });
  }

  private start(): void {
    while (this.waiting.length > 0 && this.inFlight < this.limits.maxInFlight) this.startOne();
  }

  private startOne(): void {
    const group = this.waiting.splice(0, this.limits.maxSize);
    this.inFlight++;
    this.onGroup(group.length);
    for (const g of group) g.joined?.(group.length);
    Promise.resolve()
      // Traced under the first request it carries, not whichever group ran before it.
      .then(() => {
        const work = () => this.run(group.map((g) => g.input));
        const callerContext = group[0]!.callerContext;
        return callerContext ? callerContext.runInAsyncScope(work) : work();
      })
      .then((outputs) => {
        if (outputs.length !== group.length) throw new Error(`a group of ${group.length} got ${outputs.length} answers`);
        group.forEach((g, i) => g.resolve(outputs[i]!));
      })
      .catch((err: unknown) => group.forEach((g) => g.reject(err)))
      .finally(() => {
        this.inFlight--;
        this.start();
      });
  }
}

/**
 * Runs a group's calls sorted by `compare`, the order in which each takes its row locks, so
 * that two groups never wait on each other's rows crosswise, and answers in arrival order.
 */
export async function inLockOrder<In, Out>(
  inArrival: In[],
  compare: (a: In, b: In) => number,
  run: (sorted: In[]) => Promise<Out[]>,
): Promise<Out[]> {
  const order = inArrival.map((_, i) => i).sort((a, b) => compare(inArrival[a]!, inArrival[b]!));
  const outputs = await run(order.map((i) => inArrival[i]!));
  if (outputs.length !== order.length) throw new Error(`${order.length} calls got ${outputs.length} answers`);
  const inArrivalOrder = new Array<Out>(order.length);
  outputs.forEach((output, i) => (inArrivalOrder[order[i]!] = output));
  return inArrivalOrder;
}

/** A deadlock lost costs a request nothing but a try; this many, and it is a fault. */
const MAX_ATTEMPTS = 3;

/**
 * `groups.call(input)`, tried again when its answer says it lost a deadlock (`lost`) or
 * its whole group failed on one (at commit, say): either way nothing of it was written.
 */
export async function callSettled<In, Out, Lost extends Out>(
  groups: CommitGroups<In, Out>,
  input: In,
  lost: (output: Out) => output is Lost,
  joined?: (groupSize: number) => void,
): Promise<Exclude<Out, Lost>> {
  for (let attempt = 1; ; attempt++) {
    let output: Out;
    try {
      output = await groups.call(input, joined);
    } catch (err) {
      if (attempt < MAX_ATTEMPTS && isRetryableConflict(err)) continue;
      throw err;
    }
    if (!lost(output)) return output as Exclude<Out, Lost>;
    if (attempt === MAX_ATTEMPTS) throw new Error(`lost a deadlock ${MAX_ATTEMPTS} times`);
  }
}
