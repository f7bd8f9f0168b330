import pino, { type Logger } from 'pino';

/**
 * Paths pino blanks before a line is written. Handlers never log bodies, but if someone adds one,
 * phone and ID numbers still do not reach the log (DESIGN.md, Privacy).
 */
export const REDACTED_PATHS = [
  'phone',
  '*.phone',
  'idNumber',
  '*.idNumber',
  'password',
  '*.password',
  'code',
  '*.code',
  'refreshToken',
  '*.refreshToken',
  'accessToken',
  '*.accessToken',
  'req.headers.authorization',
  'req.headers.cookie',
];

/**
 * JSON lines for log collectors; a person running `npm start` in a terminal gets them pretty-printed
 * (pino-pretty, a dev dependency, in pino's worker thread). Redaction happens before either.
 */
export function createLogger(level: string, destination?: pino.DestinationStream, options: { pretty?: boolean } = {}): Logger {
  const target = destination ?? (options.pretty ? pino.transport({ target: 'pino-pretty', options: { ignore: 'pid,hostname,service', translateTime: 'SYS:HH:MM:ss' } }) : undefined);
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { service: 'estate-cloud' } }, target);
}
