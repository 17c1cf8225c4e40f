// pino JSON to stderr. Pretty lines only for local use (`diagnosis-server all`), and
// pino-pretty is loaded only then: production roles start faster without it.
import { pino, type Logger } from 'pino';

export async function createLogger(level: string, prettyPrint: boolean): Promise<Logger> {
  const options = {
    level,
    base: undefined,
    redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]' },
  };
  if (!prettyPrint) return pino(options, pino.destination({ fd: 2, sync: false }));
  const { default: pretty } = await import('pino-pretty');
  return pino(options, pretty({ destination: 2, sync: true, ignore: 'pid,hostname' }));
}

/**
 * What a log line says of an error: its name, message, Postgres error code and constraint,
 * and stack. Never `detail`, `where` or the rest: Postgres puts row values there (a
 * duplicate key's bytes, say), and pino's own error serializer would copy them all.
 */
export function errorFields(err: unknown): { err: Record<string, string | undefined> } {
  if (!(err instanceof Error)) return { err: { message: String(err) } };
  const { code, constraint } = err as { code?: unknown; constraint?: unknown };
  return {
    err: {
      name: err.name,
      message: err.message,
      code: typeof code === 'string' ? code : undefined,
      constraint: typeof constraint === 'string' ? constraint : undefined,
      stack: err.stack,
    },
  };
}
