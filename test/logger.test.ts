import { describe, expect, it } from 'vitest';
import { errorFields } from '../src/logger.js';

describe('errorFields', () => {
  it('keeps name, message, code, constraint and stack of a Postgres error, never its detail', () => {
    const err = Object.assign(new Error('duplicate key value violates unique constraint "diagnosis_keys_key_data_key"'), {
      code: '23505',
      constraint: 'diagnosis_keys_key_data_key',
      detail: 'Key (key_data)=(\\x0123456789abcdef0123456789abcdef) already exists.',
      where: 'SQL statement "INSERT …"',
    });
    const { err: logged } = errorFields(err);
    expect(logged).toMatchObject({ name: 'Error', code: '23505', constraint: 'diagnosis_keys_key_data_key' });
    expect(logged.stack).toContain('duplicate key value');
    expect(JSON.stringify(logged)).not.toContain('0123456789abcdef');
    expect(Object.keys(logged).sort()).toEqual(['code', 'constraint', 'message', 'name', 'stack']);
  });

  it('says what was thrown when it is not an Error', () => {
    expect(errorFields('socket hang up')).toEqual({ err: { message: 'socket hang up' } });
  });
});
