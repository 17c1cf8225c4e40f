// The load generators' connection: a miscounted end would read the next answer from the
// middle of this one, and the bench would count a request failed or, worse, answered.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { firstAnswer, keepAliveConnection, postRequest } from '../../src/clients/keep-alive.js';

async function listening(handler: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('firstAnswer', () => {
  it('ends an answer after its Content-Length, and not before all of it is there', () => {
    const answer = 'HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\nContent-Length: 5\r\n\r\nhello';
    expect(firstAnswer(bytes(answer + 'HTTP/1.1 4'))).toEqual({ status: 200, end: answer.length, close: false });
    expect(firstAnswer(bytes(answer.slice(0, -1)))).toBeUndefined();
    expect(firstAnswer(bytes('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n'))).toBeUndefined();
  });

  it('ends a chunked answer after its last chunk', () => {
    const answer = 'HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\na\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n';
    expect(firstAnswer(bytes(answer + 'HTTP/1.1 200 OK\r\n'))).toEqual({ status: 401, end: answer.length, close: false });
    expect(firstAnswer(bytes(answer.slice(0, -2)))).toBeUndefined();
    expect(firstAnswer(bytes(answer.slice(0, 60)))).toBeUndefined();
  });

  it('says when the server closes the connection after the answer', () => {
    const answer = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\ncontent-length: 0\r\n\r\n';
    expect(firstAnswer(bytes(answer))).toEqual({ status: 503, end: answer.length, close: true });
  });
});

describe('keepAliveConnection', () => {
  it('sends one request after another, and opens a new connection when the server closes one', async () => {
    let connections = 0;
    let answered = 0;
    const { server, port } = await listening((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        answered++;
        const body = Buffer.concat(chunks);
        // Every third answer closes its connection; odd bodies are answered in chunks.
        if (answered % 3 === 0) res.setHeader('connection', 'close');
        if (body.length % 2) res.writeHead(body[0] === 0x78 ? 404 : 200).end(body);
        else res.writeHead(201, { 'content-length': body.length }).end(body);
      });
    });
    server.on('connection', () => connections++);
    const connection = keepAliveConnection(port, 5_000);
    try {
      const statuses = [];
      for (const body of ['a', 'bb', 'x', 'dddd', 'eee', 'ff', 'g']) statuses.push(await connection.send(postRequest(port, '/p', Buffer.from(body))));
      expect(statuses).toEqual([200, 201, 404, 201, 200, 201, 200]);
      expect(connections).toBe(3);
    } finally {
      connection.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it('fails a request the server does not answer in time', async () => {
    const { server, port } = await listening(() => {});
    const connection = keepAliveConnection(port, 200);
    try {
      await expect(connection.send(postRequest(port, '/p', Buffer.from('a')))).rejects.toThrow(/closed before the answer/);
    } finally {
      connection.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
