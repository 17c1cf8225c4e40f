import { describe, expect, it } from 'vitest';
import { CODE_DIGITS, CODE_LETTERS, couldBeOneTimeCode, generateOneTimeCode, normaliseOneTimeCode } from '../../src/protocol/one-time-code.js';

const group = (n: number) => `([${CODE_LETTERS}]{${n}}|[${CODE_DIGITS}]{${n}})`;
const SHAPE = new RegExp(`^${group(3)}${group(3)}${group(4)}$`);

describe('one-time codes', () => {
  it('are ten characters in groups of 3, 3 and 4, each all letters or all digits, never empty', () => {
    for (let i = 0; i < 5000; i++) {
      const code = generateOneTimeCode();
      expect(code).toMatch(SHAPE);
    }
  });

  it('use every allowed character and both kinds of group', () => {
    const seen = new Set<string>();
    const kinds = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const code = generateOneTimeCode();
      for (const c of code) seen.add(c);
      kinds.add(/^[0-9]/.test(code) ? 'digits' : 'letters');
    }
    expect([...seen].sort().join('')).toBe([...(CODE_LETTERS + CODE_DIGITS)].sort().join(''));
    expect(kinds.size).toBe(2);
  });

  it('normalise as the patient may type them', () => {
    expect(normaliseOneTimeCode('aef-hjk 2456')).toBe('AEFHJK2456');
    expect(normaliseOneTimeCode(' a e f ')).toBe('AEF');
    expect(normaliseOneTimeCode('AEF_HJK')).toBe('AEF_HJK');
  });

  it('knows which strings could be a stored code', () => {
    expect(couldBeOneTimeCode(generateOneTimeCode())).toBe(true);
    expect(couldBeOneTimeCode('ABC')).toBe(true);
    expect(couldBeOneTimeCode('')).toBe(false);
    expect(couldBeOneTimeCode('ABC\0DEF')).toBe(false);
    expect(couldBeOneTimeCode('ÄBC')).toBe(false);
    expect(couldBeOneTimeCode('A'.repeat(11))).toBe(false);
  });
});
