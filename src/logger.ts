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
