import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_OPEN_TOKEN_CHARS } from '@estate/protocol';
import { errorText, type Logger } from '../log.js';
import type { OpenOutcome } from './door-service.js';

export type ReaderServer = { url: string; close(): Promise<void> };

const MAX_BODY_BYTES = 4096;
const READER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The LAN endpoint door readers push scanned QR codes to, the way network QR readers are configured with
 * an HTTP push URL per device:
 *
 *   POST /doors/{doorCode}/scan      body: the scanned text (text/plain), or {"token": "..."}
 *   X-Reader-Id: reader-3            optional: which reader, kept in the access record
 *
 * Answers 200 opened, 403 denied (with the reason, for the reader's red light), 502 the lock failed,
 * 404 no such door, 400 / 413 / 415 for what is not a scan. The reader only relays: the gateway decides.
 */
export async function startReaderServer(options: { host: string; port: number; log: Logger; scan(input: { doorCode: number; token: string; readerId: string | null }): Promise<OpenOutcome> }): Promise<ReaderServer> {
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.log.error('reader request failed', { error: errorText(error) });
      if (!res.headersSent) reply(res, 500, { error: 'internal', message: 'the gateway could not handle the scan' });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/doors\/(\d{1,5})\/scan$/.exec(new URL(req.url ?? '/', 'http://reader').pathname);
    if (!match) return reply(res, 404, { error: 'not-found', message: 'POST /doors/{doorCode}/scan' });
    if (req.method !== 'POST') return reply(res, 405, { error: 'method-not-allowed', message: 'use POST' });
    const readerHeader = req.headers['x-reader-id'];
    const readerId = typeof readerHeader === 'string' && READER_ID.test(readerHeader) ? readerHeader : null;
    const body = await readBody(req);
    if (body === null) return reply(res, 413, { error: 'too-large', message: `a scan is at most ${MAX_BODY_BYTES} bytes` });
    const type = (req.headers['content-type'] ?? 'text/plain').split(';')[0]!.trim().toLowerCase();
    let token: string;
    if (type === 'application/json') {
      try {
        const parsed = JSON.parse(body) as { token?: unknown };
        if (typeof parsed.token !== 'string') return reply(res, 400, { error: 'bad-request', message: 'JSON body needs a "token" string' });
        token = parsed.token;
      } catch {
        return reply(res, 400, { error: 'bad-request', message: 'the body is not JSON' });
      }
    } else if (type === 'text/plain' || type === 'application/octet-stream') {
      token = body.trim();
    } else {
      return reply(res, 415, { error: 'unsupported-media-type', message: 'send text/plain or application/json' });
    }
    if (token.length === 0 || token.length > MAX_OPEN_TOKEN_CHARS) {
      // Still an attempt at the door: the service records it as a malformed token.
      token = token.slice(0, MAX_OPEN_TOKEN_CHARS + 1);
    }
    const outcome = await options.scan({ doorCode: Number(match[1]), token, readerId });
    const status = outcome.outcome === 'opened' ? 200 : outcome.outcome === 'denied' ? (outcome.reason === 'unknown-door' ? 404 : 403) : 502;
    reply(res, status, outcome.outcome === 'opened' ? { outcome: 'opened', attemptId: outcome.attemptId } : { outcome: outcome.outcome, attemptId: outcome.attemptId, reason: outcome.reason, detail: outcome.detail });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** The body as text, or null when it is larger than a scan can be. */
function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
