// `diagnosis-server all` runs with nothing configured: it generates development secrets
// once, keeps them in the data folder so every run prints the same ones, and fills in only
// the variables the environment leaves unset.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_DATA_DIR, parseEnvironment, type Environment } from './config.js';
import { generateSecrets, publicKeyPem } from './crypto/key-generation.js';

export interface DevSecrets {
  KEY_CLAIM_TOKEN: string;
  RETRIEVE_HMAC_KEY: string;
  ECDSA_KEY: string;
}

/** The secrets, and where the export public key is written for verify-export. */
export async function developmentSecrets(dataDir: string): Promise<{ secrets: DevSecrets; publicKeyFile: string }> {
  const file = path.join(dataDir, 'dev-secrets.json');
  const publicKeyFile = path.join(dataDir, 'export-public-key.pem');
  let stored: Partial<DevSecrets> = {};
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as Partial<DevSecrets>;
  } catch {
    // first run
  }
  // Keep what an earlier run stored; generate whatever is missing (a newer version may add secrets).
  const fresh = generateSecrets();
  const secrets: DevSecrets = {
    KEY_CLAIM_TOKEN: stored.KEY_CLAIM_TOKEN ?? `${fresh.claimToken}=dev-portal`,
    RETRIEVE_HMAC_KEY: stored.RETRIEVE_HMAC_KEY ?? fresh.retrieveHmacKey,
    ECDSA_KEY: stored.ECDSA_KEY ?? fresh.ecdsaKey,
  };
  if (Object.keys(stored).length !== Object.keys(secrets).length) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  await writeFile(publicKeyFile, publicKeyPem(secrets.ECDSA_KEY));
  return { secrets, publicKeyFile };
}

/** The environment with development secrets where it has none; and which were filled. */
export function withDevelopmentSecrets(env: Environment, secrets: DevSecrets): { env: Environment; filled: (keyof DevSecrets)[] } {
  const filled = (Object.keys(secrets) as (keyof DevSecrets)[]).filter((name) => !env[name]);
  return { env: { ...env, ...Object.fromEntries(filled.map((name) => [name, secrets[name]])) }, filled };
}

/**
 * The environment of a local run (`all`, `simulate`): the development secrets of its data
 * folder filled in where the environment has none, which ones were, and where the export
 * public key was written.
 */
export async function localEnvironment(env: Environment): Promise<{ env: Environment; filled: (keyof DevSecrets)[]; publicKeyFile: string }> {
  const dev = await developmentSecrets(parseEnvironment(env).DATA_DIR ?? DEFAULT_DATA_DIR);
  return { ...withDevelopmentSecrets(env, dev.secrets), publicKeyFile: dev.publicKeyFile };
}
