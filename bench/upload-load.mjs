// Uploads per second against a real key-submission process on real Postgres: phones claim
// codes first, every upload (14 keys, as after a fortnight) is sealed with tweetnacl before
// the clock starts, then `concurrency` connections send them as fast as they are answered.
// Run after `npm run build`: node bench/upload-load.mjs [uploads] [concurrency]
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import nacl from 'tweetnacl';
import { covidshield } from '../generated/covidshield.js';
import { freePort, spawnRole, startPostgres, summary, TOKEN, waitForPing } from './lib.mjs';

const { KeyClaimRequest, KeyClaimResponse, EncryptedUploadRequest, EncryptedUploadResponse, Upload } = covidshield;
const uploads = Number(process.argv[2] ?? 6000);
const concurrency = Number(process.argv[3] ?? 64);
const KEYS_PER_UPLOAD = 14;
const UPLOADS_PER_PHONE = 3; // 3 × 14 = 42 of the 43-key quota

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
function send(port, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-length': body.length, ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function inBatches(count, width, task) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < count) await task(next++);
  }));
}

const postgres = await startPostgres();
const port = await freePort();
const server = spawnRole('key-submission', { DATABASE_URL: postgres.url, BIND_ADDR: `127.0.0.1:${port}` });
try {
  await waitForPing(`http://127.0.0.1:${port}`);
  const phones = Math.ceil(uploads / UPLOADS_PER_PHONE);
  const bodies = [];
  const nowSeconds = Math.floor(Date.now() / 1000);
  const today = Math.floor(nowSeconds / 600 / 144) * 144;
  let prepared = performance.now();
  await inBatches(phones, 16, async () => {
    const code = (await send(port, '/new-key-claim', Buffer.alloc(0), { authorization: `Bearer ${TOKEN}` })).body.toString().trim();
    const keypair = nacl.box.keyPair();
    const claim = await send(port, '/claim-key', KeyClaimRequest.encode({ oneTimeCode: code, appPublicKey: keypair.publicKey }).finish());
    if (claim.status !== 200) throw new Error(`claim answered ${claim.status}`);
    const serverPublicKey = KeyClaimResponse.decode(claim.body).serverPublicKey;
    for (let u = 0; u < UPLOADS_PER_PHONE && bodies.length < uploads; u++) {
      const keys = Array.from({ length: KEYS_PER_UPLOAD }, (_, i) => ({
        keyData: randomBytes(16), transmissionRiskLevel: 1, rollingStartIntervalNumber: today - i * 144, rollingPeriod: 144,
      }));
      const nonce = nacl.randomBytes(24);
      const payload = nacl.box(Upload.encode({ timestamp: { seconds: nowSeconds }, keys }).finish(), nonce, serverPublicKey, keypair.secretKey);
      bodies.push(Buffer.from(EncryptedUploadRequest.encode({ serverPublicKey, appPublicKey: keypair.publicKey, nonce, payload }).finish()));
    }
  });
  prepared = performance.now() - prepared;

  const latencies = [];
  let failures = 0;
  const start = performance.now();
  await inBatches(bodies.length, concurrency, async (i) => {
    const t = performance.now();
    const result = await send(port, '/upload', bodies[i]);
    latencies.push(performance.now() - t);
    if (result.status !== 200 || EncryptedUploadResponse.decode(result.body).error !== 0) failures++;
  });
  const seconds = (performance.now() - start) / 1000;
  const s = summary(latencies);
  console.log(`prepared ${phones} claimed phones and ${bodies.length} sealed uploads in ${(prepared / 1000).toFixed(1)} s`);
  console.log(`uploads: ${bodies.length} × ${KEYS_PER_UPLOAD} keys at concurrency ${concurrency}, ${failures} failed`);
  console.log(`throughput: ${(bodies.length / seconds).toFixed(0)} uploads/s, ${((bodies.length * KEYS_PER_UPLOAD) / seconds).toFixed(0)} keys/s`);
  console.log(`latency: p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`);
  if (failures) process.exitCode = 1;
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  agent.destroy();
  await postgres.stop();
}
