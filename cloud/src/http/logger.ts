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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { service: 'estate-cloud' } }, destination);
}
