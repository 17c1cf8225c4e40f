// GET /exposure-configuration/{name}.json (protocol §5.2): operator-supplied JSON the app
// reads (risk scoring in CA.json, regional content in region.json). Files are read and
// checked once at start-up; each answer carries a strong ETag so the app's
// If-None-Match gets a 304.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packagePath } from '../package-root.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFound, notModified } from '../http/responses.js';

export const DEFAULT_EXPOSURE_CONFIGURATION_DIR = packagePath('exposure-configuration');

interface ConfigurationFile {
  body: Buffer;
  etag: string;
}

/** Every `*.json` in `dir`, by name without extension. A file that is not JSON stops start-up. */
export function loadExposureConfiguration(dir: string): Map<string, ConfigurationFile> {
  const files = new Map<string, ConfigurationFile>();
  for (const name of readdirSync(dir).filter((f) => /^[A-Za-z0-9_-]+\.json$/.test(f))) {
    const body = readFileSync(path.join(dir, name));
    try {
      JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new Error(`exposure configuration ${name} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    files.set(name.slice(0, -'.json'.length), { body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` });
  }
  return files;
}

/**
 * /exposure-configuration/{name}.json from `files`, and /exposure-configuration/{mcc}/{name}.json
 * from the folder of each region that has one of its own (REGIONS_FILE).
 */
export function registerExposureConfiguration(
  app: FastifyInstance,
  files: Map<string, ConfigurationFile>,
  byRegion: Map<string, Map<string, ConfigurationFile>> = new Map(),
): void {
  const serve = (request: FastifyRequest, reply: FastifyReply, from: Map<string, ConfigurationFile> | undefined, requested: string) => {
    const name = requested.endsWith('.json') ? requested.slice(0, -5) : undefined;
    const file = name === undefined ? undefined : from?.get(name);
    if (!file) return notFound(reply);
    reply.header('etag', file.etag).header('cache-control', 'no-cache');
    if (notModified(request.headers['if-none-match'], file.etag)) return reply.code(304).send();
    return reply.header('content-type', 'application/json; charset=utf-8').send(file.body);
  };
  app.get<{ Params: { file: string } }>('/exposure-configuration/:file', (request, reply) => serve(request, reply, files, request.params.file));
  app.get<{ Params: { mcc: string; file: string } }>('/exposure-configuration/:mcc/:file', (request, reply) =>
    serve(request, reply, byRegion.get(request.params.mcc), request.params.file),
  );
}
