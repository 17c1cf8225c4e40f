import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { CommitGroups, inLockOrder } from '../../src/db/commit-groups.js';

/** A run whose groups are recorded and finished by hand. */
function controlledRun() {
  const groups: number[][] = [];
  const pending: { finish: () => void; fail: (err: Error) => void }[] = [];
  const run = (inputs: number[]) => {
    groups.push(inputs);
    return new Promise<string[]>((resolve, reject) => pending.push({ finish: () => resolve(inputs.map((n) => `done ${n}`)), fail: reject }));
  };
  const turn = () => new Promise((r) => setImmediate(r));
  return {
    run,
    groups,
    turn,
    finishOldest: async () => {
      pending.shift()!.finish();
      await turn();
    },
    failOldest: async (err: Error) => {
      pending.shift()!.fail(err);
      await turn();
    },
  };
}

describe('CommitGroups', () => {
  it('starts a lone call in the same turn, without waiting for company', async () => {
    const r = controlledRun();
    const groups = new CommitGroups(r.run, { maxSize: 8, maxInFlight: 1 });
    const answer = groups.call(1);
    await r.turn();
    expect(r.groups).toEqual([[1]]);
    await r.finishOldest();
    expect(await answer).toBe('done 1');
  });

  it('groups the calls of one turn, and those that wait for a running group', async () => {
    const r = controlledRun();
    const sizes: number[] = [];
    const groups = new CommitGroups(r.run, { maxSize: 8, maxInFlight: 1 }, (n) => sizes.push(n));
    const first = [1, 2].map((n) => groups.call(n));
    await r.turn();
    const second = [3, 4, 5].map((n) => groups.call(n));
    await r.turn();
    // The second lot waits for the first group to end.
    expect(r.groups).toEqual([[1, 2]]);
    await r.finishOldest();
    expect(r.groups).toEqual([
      [1, 2],
      [3, 4, 5],
    ]);
    await r.finishOldest();
    expect(await Promise.all([...first, ...second])).toEqual(['done 1', 'done 2', 'done 3', 'done 4', 'done 5']);
    expect(sizes).toEqual([2, 3]);
  });

  it('runs up to maxInFlight groups at once, of at most maxSize each', async () => {
    const r = controlledRun();
    const groups = new CommitGroups(r.run, { maxSize: 2, maxInFlight: 2 });
    const answers = [1, 2, 3, 4, 5, 6, 7].map((n) => groups.call(n));
    await r.turn();
    expect(r.groups).toEqual([
      [1, 2],
      [3, 4],
    ]);
    await r.finishOldest();
    expect(r.groups.slice(2)).toEqual([[5, 6]]);
    await r.finishOldest();
    await r.finishOldest();
    await r.finishOldest();
    expect(r.groups.slice(3)).toEqual([[7]]);
    expect(await Promise.all(answers)).toHaveLength(7);
  });

  it('fails every call of a failed group, and only those', async () => {
    const r = controlledRun();
    const groups = new CommitGroups(r.run, { maxSize: 8, maxInFlight: 1 });
    const failed = [1, 2].map((n) => groups.call(n).catch((err: Error) => err.message));
    await r.turn();
    const later = groups.call(3);
    await r.failOldest(new Error('connection lost'));
    expect(await Promise.all(failed)).toEqual(['connection lost', 'connection lost']);
    await r.finishOldest();
    expect(await later).toBe('done 3');
  });

  it('runs each group in the async context of its first call, not of the group before it', async () => {
    const r = controlledRun();
    const request = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    const groups = new CommitGroups(
      (inputs: number[]) => {
        seen.push(request.getStore());
        return r.run(inputs);
      },
      { maxSize: 8, maxInFlight: 1 },
    );
    const first = request.run('first request', () => groups.call(1));
    await r.turn();
    const second = request.run('second request', () => groups.call(2));
    await r.finishOldest();
    await r.finishOldest();
    await Promise.all([first, second]);
    expect(seen).toEqual(['first request', 'second request']);
  });

  it('knows the first call of each group when the waiting ones make several', async () => {
    const r = controlledRun();
    const request = new AsyncLocalStorage<number>();
    const seen: (number | undefined)[] = [];
    const groups = new CommitGroups(
      (inputs: number[]) => {
        seen.push(request.getStore());
        return r.run(inputs);
      },
      { maxSize: 2, maxInFlight: 1 },
    );
    const answers = [1, 2, 3, 4, 5].map((n) => request.run(n, () => groups.call(n)));
    await r.turn();
    for (let i = 0; i < 3; i++) await r.finishOldest();
    await Promise.all(answers);
    expect(r.groups).toEqual([[1, 2], [3, 4], [5]]);
    expect(seen).toEqual([1, 3, 5]);
  });

  it('fails a group whose run answers a different number of calls', async () => {
    const groups = new CommitGroups(async (inputs: number[]) => inputs.slice(1), { maxSize: 8, maxInFlight: 1 });
    const answers = [1, 2].map((n) => groups.call(n).catch((err: Error) => err.message));
    expect(await Promise.all(answers)).toEqual(['a group of 2 got 1 answers', 'a group of 2 got 1 answers']);
  });
});

describe('inLockOrder', () => {
  it('runs the calls sorted and answers each in arrival order', async () => {
    let ran: string[] = [];
    const answers = await inLockOrder(
      ['c', 'a', 'b', 'a'],
      (x, y) => x.localeCompare(y),
      async (sorted) => {
        ran = sorted;
        return sorted.map((x, i) => `${x}${i}`);
      },
    );
    expect(ran).toEqual(['a', 'a', 'b', 'c']);
    expect(answers).toEqual(['c3', 'a0', 'b2', 'a1']);
  });

  it('refuses a run that answers a different number of calls', async () => {
    await expect(
      inLockOrder(
        [1, 2],
        (x, y) => x - y,
        async (sorted) => sorted.slice(1),
      ),
    ).rejects.toThrow('2 calls got 1 answers');
  });
});
