// The key-retrieval server. This increment serves /services/*; the retrieval endpoints of
// protocol §5 arrive with the key-retrieval issue.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createHttpServer } from '../http/server.js';

export const DEFAULT_RETRIEVAL_PORT = 8001;

export function buildRetrievalServer(config: Config, log: Logger): FastifyInstance {
  return createHttpServer(config, log);
}
