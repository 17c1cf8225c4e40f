// A keep-alive HTTP/1.1 connection as lean as a client can be: one whole request at a time,
// written in one write, and of the answer only its status and where it ends. For load
// generators (bench/), whose own CPU comes out of what the server under test gets when
// both share a machine: node:http's client costs several times this per request.

import net from 'node:net';

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

export interface Answer {
  status: number;
  /** Where the answer ends in the bytes received. */
  end: number;
  /** The server closes the connection after it. */
  close: boolean;
}

/** The first whole answer in a connection's received bytes; undefined while not all of it is there. */
export function firstAnswer(received: Buffer): Answer | undefined {
  const headEnd = received.indexOf(HEAD_END);
  if (headEnd < 0) return undefined;
  const head = received.toString('latin1', 0, headEnd);
  const status = Number(head.slice(9, 12));
  const close = /\r\nconnection: *close/i.test(head);
  const bodyStart = headEnd + HEAD_END.length;
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length) {
    const end = bodyStart + Number(length[1]);
    return received.length >= end ? { status, end, close } : undefined;
  }
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    // Chunks, each its size in hex on a line of its own; the last has size 0, and no trailers follow.
    for (let at = bodyStart; ;) {
      const lineEnd = received.indexOf(CRLF, at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(received.toString('latin1', at, lineEnd), 16);
      const next = lineEnd + CRLF.length + size + CRLF.length;
      if (received.length < next) return undefined;
      if (size === 0) return { status, end: next, close };
      at = next;
    }
  }
  return { status, end: bodyStart, close };
}

/** A whole POST request, head and body in one buffer. */
export function postRequest(port: number, path: string, body: Buffer, headers: Record<string, string> = {}): Buffer {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  const head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-length: ${body.length}\r\n${lines.join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

export interface KeepAliveConnection {
  /** Sends a whole request and resolves with its answer's status; one at a time. */
  send(request: Buffer): Promise<number>;
  close(): void;
}

/**
 * A connection to 127.0.0.1:`port`, opened on the first request and again after the server
 * closes it. A request the server does not answer within `timeoutMs` fails.
 */
export function keepAliveConnection(port: number, timeoutMs: number): KeepAliveConnection {
  let socket: net.Socket | undefined;
  let waiting: { resolve: (status: number) => void; reject: (error: Error) => void } | undefined;
  let received: Buffer = Buffer.alloc(0);
  const fail = (error: Error) => {
    const w = waiting;
    waiting = undefined;
    socket = undefined;
    received = Buffer.alloc(0);
    w?.reject(error);
  };
  const open = () => {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    s.setTimeout(timeoutMs, () => s.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    s.on('data', (chunk: Buffer) => {
      received = received.length ? Buffer.concat([received, chunk]) : chunk;
      const answer = firstAnswer(received);
      if (!answer || !waiting) return;
      const w = waiting;
      waiting = undefined;
      received = received.subarray(answer.end);
      if (answer.close) {
        s.removeAllListeners('close');
        s.destroy();
        socket = undefined;
      }
      w.resolve(answer.status);
    });
    // The error is the request's, through 'close'.
    s.on('error', () => {});
    s.on('close', () => fail(new Error('connection closed before the answer')));
    return s;
  };
  return {
    send: (request) =>
      new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        (socket ??= open()).write(request);
      }),
    close: () => {
      socket?.removeAllListeners('close');
      socket?.destroy();
      socket = undefined;
    },
  };
}
