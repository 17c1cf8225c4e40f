import { describe, expect, it } from 'vitest';
import { isRole, ROLES, roleUsage, serverPort } from '../src/roles.js';

describe('the role table', () => {
  it('knows its roles and nothing else', () => {
    expect(Object.keys(ROLES)).toEqual(['key-submission', 'key-retrieval', 'migrate', 'purge', 'purger', 'all']);
    expect(isRole('key-retrieval')).toBe(true);
    expect(isRole('toString')).toBe(false);
    expect(isRole('keys')).toBe(false);
  });

  it('puts each server on its port: the default, PORT, or the one after PORT for a second server', () => {
    expect(serverPort('key-submission', 'key-submission', undefined)).toBe(8000);
    expect(serverPort('key-retrieval', 'key-retrieval', undefined)).toBe(8001);
    expect(serverPort('key-retrieval', 'key-retrieval', 9000)).toBe(9000);
    expect(serverPort('all', 'key-submission', undefined)).toBe(8000);
    expect(serverPort('all', 'key-retrieval', undefined)).toBe(8001);
    expect(serverPort('all', 'key-retrieval', 9000)).toBe(9001);
    expect(serverPort('all', 'key-retrieval', 0)).toBe(0);
  });

  it('lists every role in the usage text', () => {
    for (const [name, spec] of Object.entries(ROLES)) expect(roleUsage()).toContain(`  ${name.padEnd(16)} ${spec.summary}`);
  });
});
