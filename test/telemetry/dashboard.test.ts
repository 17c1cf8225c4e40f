// The Grafana dashboard only queries metrics the server exports.
import { readFileSync } from 'node:fs';
import { createNoopMeter } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/telemetry/metrics.js';

const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/diagnosis-server.json', import.meta.url), 'utf8'));
const PROMQL_WORDS = new Set([
  'sum',
  'by',
  'rate',
  'increase',
  'histogram_quantile',
  'max',
  'le',
  'route',
  'status',
  'state',
  'kind',
  'error',
  'originator',
  'instance',
  'rule',
  'region',
  'call',
]);

describe('deploy/grafana dashboard', () => {
  const metrics = new Metrics(createNoopMeter());
  metrics.observeStoredCounts(async () => ({ unclaimed: 0, claimed: 0, keys: 0, newestBatchHour: null, unfoldedStatistics: 0 }));
  const exported = new Set(metrics.names);

  it('has the panels operators look at first', () => {
    const titles = dashboard.panels.map((p: { title: string }) => p.title).join('\n');
    for (const topic of ['Requests per second', 'Errors', 'issued vs claimed', 'Keys accepted per day', 'Key file size', 'Purge', 'bans']) {
      expect(titles).toContain(topic);
    }
  });

  it('queries only metrics that exist', () => {
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        for (const word of target.expr.replace(/\{[^}]*\}|\[[^\]]*\]/g, '').match(/(?<![\w.])[a-z_][a-z0-9_]*/g) ?? []) {
          if (PROMQL_WORDS.has(word) || /^\d/.test(word)) continue;
          used.add(word.replace(/_(bucket|sum|count)$/, ''));
        }
      }
    }
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(exported, name).toContain(name);
  });
});
