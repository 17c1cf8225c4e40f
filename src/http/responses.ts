// The plain-text and protobuf answers of protocol §2.
import type { FastifyReply, FastifyRequest } from 'fastify';

export function sendText(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/plain; charset=utf-8')
    .header('x-content-type-options', 'nosniff')
    .send(message + '\n');
}

export function sendProtobuf(reply: FastifyReply, status: number, body: Buffer): FastifyReply {
  reply.code(status).header('content-type', 'application/x-protobuf');
  if (status >= 400) reply.header('x-content-type-options', 'nosniff');
  return reply.send(body);
}

export const notFound = (reply: FastifyReply) => sendText(reply, 404, '404 page not found');
export const unauthorized = (reply: FastifyReply) => sendText(reply, 401, 'unauthorized');

/** If-None-Match names this ETag, or any (*): the client's copy is current. */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  return !!ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*');
}

const unmeasured = new WeakSet<FastifyRequest>();

/** Keeps a request out of the request metrics and the request log (chaff). */
export function leaveUnmeasured(request: FastifyRequest): void {
  unmeasured.add(request);
}

export function isUnmeasured(request: FastifyRequest): boolean {
  return unmeasured.has(request);
}
