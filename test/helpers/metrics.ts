// /metrics as a test reads it: every sample by series name, to compare before and after.
import { expect } from 'vitest';
import { request } from './app-client.js';

export type Samples = Map<string, number>;

/** Prometheus text format → "name{label="value",…}" → value, labels sorted. */
export async function scrape(url: string): Promise<Samples> {
  const result = await request(url);
  expect(result.status).toBe(200);
  const samples: Samples = new Map();
  for (const line of result.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable line: ${line}`);
    const labels = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    samples.set(labels ? `${match[1]}{${labels}}` : match[1]!, Number(match[3]));
  }
  return samples;
}

export function delta(before: Samples, after: Samples, key: string): number {
  return (after.get(key) ?? 0) - (before.get(key) ?? 0);
}
