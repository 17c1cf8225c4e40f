// `diagnosis-server all` runs with nothing configured: it generates development secrets
// once, keeps them in the data folder so every run prints the same ones, and fills in only
// the variables the environment leaves unset.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Environment } from './config.js';

export interface DevSecrets {
  KEY_CLAIM_TOKEN: string;
}

export async function developmentSecrets(dataDir: string): Promise<DevSecrets> {
  const file = path.join(dataDir, 'dev-secrets.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as DevSecrets;
  } catch {
    const secrets: DevSecrets = { KEY_CLAIM_TOKEN: `${randomBytes(24).toString('hex')}=dev-portal` };
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
    return secrets;
  }
}

/** The environment with development secrets where it has none; and which were filled. */
export function withDevelopmentSecrets(env: Environment, secrets: DevSecrets): { env: Environment; filled: (keyof DevSecrets)[] } {
  const filled = (Object.keys(secrets) as (keyof DevSecrets)[]).filter((name) => !env[name]);
  return { env: { ...env, ...Object.fromEntries(filled.map((name) => [name, secrets[name]])) }, filled };
}
