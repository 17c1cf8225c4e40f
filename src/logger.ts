// pino JSON to stderr. Pretty lines only for local use (`diagnosis-server all`).
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export function createLogger(level: string, prettyPrint: boolean): Logger {
  const options = {
    level,
    base: undefined,
    redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]' },
  };
  return prettyPrint ? pino(options, pretty({ destination: 2, sync: true, ignore: 'pid,hostname' })) : pino(options, pino.destination({ fd: 2, sync: false }));
}
