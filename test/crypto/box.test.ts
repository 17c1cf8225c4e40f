import { describe, expect, it } from 'vitest';
import nacl from 'tweetnacl';
import { generateBoxKeypair, openBox } from '../../src/crypto/box.js';

describe('NaCl box, opened with OpenSSL X25519 and tweetnacl XSalsa20-Poly1305', () => {
  const server = generateBoxKeypair();
  const app = nacl.box.keyPair();
  const message = nacl.randomBytes(400);
  const nonce = nacl.randomBytes(24);
  const sealed = nacl.box(message, nonce, server.publicKey, app.secretKey);

  it('opens what tweetnacl nacl.box sealed, as the app does', () => {
    expect(Buffer.from(openBox(sealed, nonce, app.publicKey, server.privateKey, server.publicKey)!)).toEqual(Buffer.from(message));
  });

  it('generates keypairs that tweetnacl agrees with', () => {
    expect(Buffer.from(nacl.box.keyPair.fromSecretKey(server.privateKey).publicKey)).toEqual(server.publicKey);
  });

  it('refuses a changed byte, a wrong nonce, a wrong sender and a low-order key', () => {
    for (let i = 0; i < sealed.length; i += 37) {
      const tampered = Uint8Array.from(sealed);
      tampered[i]! ^= 1;
      expect(openBox(tampered, nonce, app.publicKey, server.privateKey, server.publicKey)).toBeUndefined();
    }
    expect(openBox(sealed, nacl.randomBytes(24), app.publicKey, server.privateKey, server.publicKey)).toBeUndefined();
    expect(openBox(sealed, nonce, nacl.box.keyPair().publicKey, server.privateKey, server.publicKey)).toBeUndefined();
    expect(openBox(sealed, nonce, new Uint8Array(32), server.privateKey, server.publicKey)).toBeUndefined();
    expect(openBox(sealed, nonce.subarray(1), app.publicKey, server.privateKey, server.publicKey)).toBeUndefined();
    expect(openBox(new Uint8Array(5), nonce, app.publicKey, server.privateKey, server.publicKey)).toBeUndefined();
  });
});
