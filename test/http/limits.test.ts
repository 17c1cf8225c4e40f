// Slow and stalled clients are cut off, and connections are capped: raw sockets against a
// real server with short limits. Each case waits for the server to close the socket.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
let port: number;
beforeAll(async () => {
  system = await startSystem({
    HTTP_HEADERS_TIMEOUT_SECONDS: '1',
    HTTP_REQUEST_TIMEOUT_SECONDS: '2',
    HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: '1',
    HTTP_MAX_CONNECTIONS: '20',
  });
  port = Number(new URL(system.submissionUrl).port);
});
afterAll(() => system.stop());

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Seconds until the server closes `socket`; fails past `limitSeconds`. */
function closedWithin(socket: Socket, limitSeconds: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${limitSeconds} s`));
    }, limitSeconds * 1000);
    socket.resume();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve((performance.now() - started) / 1000);
    });
  });
}

describe('HTTP limits', () => {
  it('closes a request whose body never finishes', async () => {
    const socket = await open();
    socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 500\r\n\r\n0123456789');
    expect(await closedWithin(socket, 6)).toBeGreaterThan(1);
  });

  it('closes a request whose headers never finish', async () => {
    const socket = await open();
    socket.write('POST /claim-key HTTP/1.1\r\nHost: x\r\n');
    await closedWithin(socket, 5);
  });

  it('closes a connection that sends nothing', async () => {
    await closedWithin(await open(), 6);
  });

  it('closes an idle keep-alive connection after its timeout, having answered it', async () => {
    const socket = await open();
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.write('GET /services/ping HTTP/1.1\r\nHost: x\r\n\r\n');
    await closedWithin(socket, 5);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('OK\n');
  });

  it('refuses connections past the cap, and serves again once they go', async () => {
    const held = await Promise.all(Array.from({ length: 20 }, () => open()));
    const extra = await open();
    await closedWithin(extra, 2);
    for (const socket of held) socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${system.submissionUrl}/services/ping`)).status).toBe(200);
  });
});
