import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keysFromBinaryCopy } from '../../src/db/copy-binary.js';

/** What Postgres sends for COPY … (FORMAT binary) of key rows. */
function binaryCopy(rows: { keyData: Buffer; rsin: number; period: number; risk: number }[]): Buffer {
  const parts = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)];
  for (const row of rows) {
    const b = Buffer.alloc(2 + 4 + 16 + 4 + 4 + 4 + 4 + 4 + 2);
    let at = b.writeInt16BE(4, 0);
    at = b.writeInt32BE(16, at);
    at += row.keyData.copy(b, at);
    at = b.writeInt32BE(4, at);
    at = b.writeInt32BE(row.rsin, at);
    at = b.writeInt32BE(4, at);
    at = b.writeInt32BE(row.period, at);
    at = b.writeInt32BE(2, at);
    b.writeInt16BE(row.risk, at);
    parts.push(b);
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

async function* chunked(bytes: Buffer, sizes: () => number) {
  for (let at = 0; at < bytes.length;) {
    const n = sizes();
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

describe('binary COPY reader', () => {
  const rows = Array.from({ length: 1000 }, (_, i) => ({ keyData: randomBytes(16), rsin: 2_900_000 - i, period: 1 + (i % 144), risk: i % 9 }));
  const bytes = binaryCopy(rows);

  for (const [name, sizes] of [
    ['one chunk', () => bytes.length],
    ['single bytes', () => 1],
    [
      'odd chunks',
      (() => {
        let n = 0;
        return () => 1 + (n = (n * 31 + 7) % 97);
      })(),
    ],
  ] as const) {
    it(`reads every row in order from ${name}, in batches`, async () => {
      const batches = [];
      for await (const batch of keysFromBinaryCopy(chunked(bytes, sizes), 300)) batches.push(batch);
      expect(batches.map((b) => b.length)).toEqual([300, 300, 300, 100]);
      const keys = batches.flat();
      keys.forEach((key, i) => {
        expect(key.keyData.equals(rows[i]!.keyData)).toBe(true);
        expect(key).toMatchObject({
          rollingStartIntervalNumber: rows[i]!.rsin,
          rollingPeriod: rows[i]!.period,
          transmissionRiskLevel: rows[i]!.risk,
        });
      });
    });
  }

  it('refuses what is not binary COPY', async () => {
    await expect(async () => {
      for await (const _ of keysFromBinaryCopy(
        chunked(Buffer.from('key,rsin\n0102,3\n'.repeat(3)), () => 64),
        10,
      ))
        void _;
    }).rejects.toThrow('not a binary COPY stream');
  });
});
