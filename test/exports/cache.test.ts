// The cache of built key files: its byte budget, least-recently-used order, and one build
// however many requests miss at once.
import { describe, expect, it } from 'vitest';
import { cachedExport, ExportCache } from '../../src/exports/cache.js';

const file = (bytes: number) => cachedExport(Buffer.alloc(bytes, bytes % 251), 0);

describe('ExportCache', () => {
  it('keeps entries within its byte budget, dropping the least recently used first', () => {
    const cache = new ExportCache(300);
    cache.set('a', file(100));
    cache.set('b', file(100));
    cache.set('c', file(100));
    // Reading a makes b the least recently used.
    expect(cache.get('a')).toBeDefined();
    cache.set('d', file(100));
    expect(cache.get('b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((k) => cache.get(k) !== undefined)).toEqual([true, true, true]);
    cache.set('e', file(250));
    expect(['a', 'c', 'd', 'e'].map((k) => cache.get(k) !== undefined)).toEqual([false, false, false, true]);
  });

  it('keeps one entry larger than the whole budget, alone, rather than none', () => {
    const cache = new ExportCache(100);
    cache.set('small', file(50));
    cache.set('huge', file(500));
    expect(cache.get('huge')).toBeDefined();
    expect(cache.get('small')).toBeUndefined();
  });

  it('builds once for any number of concurrent misses, and again after a failed build', async () => {
    const cache = new ExportCache(1000);
    let builds = 0;
    const waitingBuilds: (() => void)[] = [];
    const build = async () => {
      builds++;
      await new Promise<void>((resolve) => waitingBuilds.push(resolve));
      const built = file(10);
      cache.set('k', built);
      return built;
    };
    const waiting = Array.from({ length: 20 }, () => cache.getOrBuild('k', build));
    for (const release of waitingBuilds) release();
    const results = await Promise.all(waiting);
    expect(builds).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(await cache.getOrBuild('k', build)).toBe(results[0]);
    expect(builds).toBe(1);

    await expect(cache.getOrBuild('broken', async () => Promise.reject(new Error('database down')))).rejects.toThrow('database down');
    expect(await cache.getOrBuild('broken', async () => file(5))).toBeDefined();
  });
});
