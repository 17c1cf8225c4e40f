// One-time codes (protocol §4.1): what the health portal reads to the patient.
import { randomInt } from 'node:crypto';

/** Letters that cannot be misread as digits or as each other when spoken or typed. */
export const CODE_LETTERS = 'AEFHJKLQRSUWXYZ';
export const CODE_DIGITS = '2456789';
const GROUP_LENGTHS = [3, 3, 4] as const;

/**
 * A fresh code: three groups of 3, 3 and 4 characters, each group all letters or all
 * digits at random, every draw from the cryptographic RNG.
 */
export function generateOneTimeCode(): string {
  let code = '';
  for (const length of GROUP_LENGTHS) {
    const alphabet = randomInt(2) === 0 ? CODE_LETTERS : CODE_DIGITS;
    for (let i = 0; i < length; i++) code += alphabet[randomInt(alphabet.length)];
  }
  return code;
}

/** What the patient typed → what is stored: no spaces or dashes, upper case. */
export function normaliseOneTimeCode(typed: string): string {
  return typed.replace(/[ -]/g, '').toUpperCase();
}

/**
 * Whether a normalised code could be one that is stored: at most 10 printable ASCII
 * characters (the column is varchar(10)). Anything else (a NUL byte, which Postgres
 * refuses in text, non-ASCII, a longer string) matches no code, and is answered as a wrong
 * code without asking the database.
 */
export function couldBeOneTimeCode(code: string): boolean {
  return /^[\x21-\x7e]{1,10}$/.test(code);
}
