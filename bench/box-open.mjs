// Cost of opening one upload box: tweetnacl alone, the server's OpenSSL + tweetnacl hybrid,
// and libsodium through sodium-native when it happens to be installed (it is not a dependency).
// Run after `npm run build`: node bench/box-open.mjs
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { generateBoxKeypair, openBox } from '../dist/crypto/box.js';

const server = generateBoxKeypair();
const app = nacl.box.keyPair();
const message = randomBytes(14 * 24 + 20); // an Upload of 14 keys
const nonce = randomBytes(24);
const sealed = nacl.box(message, nonce, server.publicKey, app.secretKey);

function measure(name, open, iterations) {
  for (let i = 0; i < Math.min(200, iterations); i++) open();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (!open()) throw new Error(`${name} failed to open`);
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / iterations;
  console.log(`${name.padEnd(34)} ${ms.toFixed(4)} ms/open  ${(1000 / ms).toFixed(0).padStart(7)} opens/s/core`);
  return ms;
}

const reference = measure('tweetnacl box.open', () => nacl.box.open(sealed, nonce, app.publicKey, server.privateKey), 1000);
const ours = measure('openssl x25519 + tweetnacl (server)', () => openBox(sealed, nonce, app.publicKey, server.privateKey, server.publicKey), 20000);
try {
  // Optional and untyped: measured only where someone installed it.
  const optional = 'sodium-native';
  const { default: sodium } = await import(optional);
  const out = Buffer.alloc(message.length);
  const args = [Buffer.from(sealed), Buffer.from(nonce), Buffer.from(app.publicKey), Buffer.from(server.privateKey)];
  measure('sodium-native', () => sodium.crypto_box_open_easy(out, ...args), 20000);
} catch {
  console.log('sodium-native                      not installed (npm install --no-save sodium-native to compare)');
}
console.log(`server / tweetnacl speed-up: ${(reference / ours).toFixed(1)}×`);
