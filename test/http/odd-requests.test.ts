// Requests no app sends but the internet does: odd Content-Types, odd methods, paths the
// router cannot take. Each gets the protocol's own answer (protocol §2, §4), never a
// framework's 415, 414 or JSON, and never its path echoed back.
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimRequest } from '../../src/clients/app.js';
import { covidshield } from '../../generated/covidshield.js';
import { issueCode } from '../helpers/app-client.js';
import { PORTAL_TOKEN, startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem();
});
afterAll(() => system.stop());

interface RawAnswer {
  status: number;
  headers: string;
  body: Buffer;
}

/**
 * A raw HTTP/1.1 request, bytes as given (headers may hold what fetch would refuse): its
 * head, then each piece of its body `gapMs` after the one before; with `firstWithHead`, the
 * first piece goes out in the head's own write.
 */
function inPieces(url: string, head: string, pieces: Buffer[], firstWithHead = false, gapMs = 50): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const headers = all.subarray(0, end).toString('latin1');
      resolve({ status: Number(headers.split(' ')[1]), headers, body: all.subarray(end + 4) });
    });
    // Written, not half-closed: Node's server drops a request whose client ends its side.
    void (async () => {
      const headBytes = Buffer.from(`${head}\r\nHost: test\r\nConnection: close\r\n\r\n`, 'latin1');
      socket.write(Buffer.concat([headBytes, ...(firstWithHead ? pieces.slice(0, 1) : [])]));
      for (const piece of firstWithHead ? pieces.slice(1) : pieces) {
        await sleep(gapMs);
        socket.write(piece);
      }
    })();
  });
}

/** One raw request, its body in the head's write, its length declared. */
function raw(url: string, head: string, body = ''): Promise<RawAnswer> {
  return inPieces(url, `${head}\r\nContent-Length: ${Buffer.byteLength(body)}`, [Buffer.from(body)], true);
}

describe('a body that comes after its headers', () => {
  it('is read whole, however many pieces it comes in', async () => {
    const body = Buffer.from(claimRequest(await issueCode(system.submissionUrl), nacl.box.keyPair().publicKey));
    const half = Math.floor(body.length / 2);
    const claim = await inPieces(system.submissionUrl, `POST /claim-key HTTP/1.1\r\nContent-Length: ${body.length}`, [
      body.subarray(0, half),
      body.subarray(half),
    ]);
    expect(claim.status).toBe(200);
    expect(covidshield.KeyClaimResponse.decode(claim.body).serverPublicKey).toHaveLength(32);
  });

  it('is refused once it passes the limit, with no length declared, whether it comes whole or in pieces', async () => {
    const chunk = (n: number) => Buffer.from(`${n.toString(16)}\r\n${'x'.repeat(n)}\r\n`);
    const end = Buffer.from('0\r\n\r\n');
    const head = 'POST /claim-key HTTP/1.1\r\nTransfer-Encoding: chunked';
    for (const claim of [
      await inPieces(system.submissionUrl, head, [chunk(200), chunk(200), end]),
      await inPieces(system.submissionUrl, head, [Buffer.concat([chunk(200), chunk(200), end])], true),
    ]) {
      expect(claim.status).toBe(400);
      expect(claim.body.toString('hex')).toBe('0801' + '1832');
    }
  });
});

const CONTENT_TYPES = ['foo', ';', ' ', 'ä', 'x'.repeat(5000)];

describe('any Content-Type', () => {
  for (const contentType of CONTENT_TYPES) {
    const shown = contentType.length > 20 ? `${contentType.length} characters` : JSON.stringify(contentType);
    it(`is read as bytes: ${shown}`, async () => {
      const type = `Content-Type: ${contentType}`;
      const claim = await raw(system.submissionUrl, `POST /claim-key HTTP/1.1\r\n${type}`, 'garbage');
      expect(claim.status).toBe(400);
      expect(claim.headers).toContain('content-type: application/x-protobuf');
      expect(claim.body.toString('hex')).toBe('0801' + '1832');
      const upload = await raw(system.submissionUrl, `POST /upload HTTP/1.1\r\n${type}`, 'garbage');
      expect(upload.status).toBe(400);
      expect(upload.body.toString('hex')).toBe('0801');
      const code = await raw(system.submissionUrl, `POST /new-key-claim HTTP/1.1\r\n${type}\r\nAuthorization: Bearer ${PORTAL_TOKEN}`);
      expect(code.status).toBe(200);
    });
  }
});

describe('any method', () => {
  for (const method of ['QUERY', 'PROPFIND', 'PURGE', 'LINK', 'M-SEARCH', 'SOURCE', 'REPORT', 'MKCOL']) {
    it(`reaches the endpoints that answer any method: ${method}`, async () => {
      const claim = await raw(system.submissionUrl, `${method} /claim-key HTTP/1.1\r\nContent-Type: application/x-protobuf`, 'garbage');
      expect(claim.status).toBe(400);
      expect(claim.body.toString('hex')).toBe('0801' + '1832');
      const upload = await raw(system.submissionUrl, `${method} /upload HTTP/1.1`, 'garbage');
      expect(upload.body.toString('hex')).toBe('0801');
      expect((await raw(system.submissionUrl, `${method} /services/ping HTTP/1.1`)).status).toBe(200);
      expect((await raw(system.retrievalUrl, `${method} /services/ping HTTP/1.1`)).status).toBe(200);
    });
  }
});

describe('paths the router cannot take', () => {
  const long = 'a'.repeat(300);
  const cases: [string, string][] = [
    ['submission', `POST /new-key-claim/${long}`],
    ['retrieval', `GET /events/${long}`],
    ['retrieval', `GET /events/uploads/${long}`],
    ['retrieval', `GET /retrieve/302/${'1'.repeat(300)}/aa`],
    ['retrieval', `GET /exposure-configuration/${long}.json`],
    ['retrieval', 'GET /exposure-configuration/%zz'],
    ['retrieval', 'GET /retrieve/%zz/00000/aa'],
  ];
  for (const [server, request] of cases) {
    it(`answers ${request.slice(0, 40)}… with the plain 404, echoing nothing`, async () => {
      const url = server === 'submission' ? system.submissionUrl : system.retrievalUrl;
      const result = await raw(url, `${request} HTTP/1.1\r\nAuthorization: Bearer ${PORTAL_TOKEN}`);
      expect(result.status).toBe(404);
      expect(result.headers).toContain('content-type: text/plain; charset=utf-8');
      expect(result.body.toString()).toBe('404 page not found\n');
    });
  }
});
