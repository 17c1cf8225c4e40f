import { describe, expect, it } from 'vitest';
import { FreshReads } from '../../src/retrieval/fresh-reads.js';

/** A query whose answers are numbered by when they started, resolved by hand. */
function controlledQuery() {
  let started = 0;
  const pending: (() => void)[] = [];
  const query = () => {
    const n = ++started;
    return new Promise<number>((resolve) => pending.push(() => resolve(n)));
  };
  return {
    query,
    started: () => started,
    finishOldest: async () => {
      pending.shift()!();
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe('FreshReads', () => {
  it('gives callers that arrive during a read the next read, shared', async () => {
    const reads = new FreshReads<number>();
    const q = controlledQuery();
    const first = reads.read('k', q.query);
    const second = reads.read('k', q.query);
    const third = reads.read('k', q.query);
    expect(q.started()).toBe(1);
    await q.finishOldest();
    expect(await first).toBe(1);
    // The second read started only once the first was done.
    expect(q.started()).toBe(2);
    await q.finishOldest();
    expect(await second).toBe(2);
    expect(await third).toBe(2);
  });

  it('never answers a caller with a read that started before it asked', async () => {
    const reads = new FreshReads<number>();
    const q = controlledQuery();
    const one = reads.read('k', q.query); // read 1 starts
    const two = reads.read('k', q.query); // waits for read 2
    await q.finishOldest(); // read 1 done; read 2 starts
    const startedWhenThreeAsked = q.started();
    const three = reads.read('k', q.query); // read 2 is running: must wait for read 3
    await q.finishOldest();
    await q.finishOldest();
    expect(await one).toBe(1);
    expect(await two).toBe(2);
    expect(startedWhenThreeAsked).toBe(2);
    expect(await three).toBe(3);
  });

  it('keeps keys apart, and recovers after a failed read', async () => {
    const reads = new FreshReads<string>();
    await expect(reads.read('a', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await reads.read('a', async () => 'up')).toBe('up');
    const [a, b] = await Promise.all([reads.read('a', async () => 'A'), reads.read('b', async () => 'B')]);
    expect([a, b]).toEqual(['A', 'B']);
  });
});
