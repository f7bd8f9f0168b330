import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SOCAT = process.env['SOCAT'] ?? '/usr/bin/socat';

export interface PtyPair {
  /** One end: the simulated RS-485 bus opens it. */
  readonly a: string;
  /** The other end: the gateway's serial port. */
  readonly b: string;
  close(): Promise<void>;
}

/**
 * Two connected pseudo-terminals made by socat: bytes written to one are read from the other, as on a
 * serial cable, so the RTU server and master run unchanged over them. Paths are unique per call.
 *
 * @example
 * const pty = await openPtyPair();
 * await startMeterServer({ transport: 'rtu', path: pty.a }, meters);
 */
export async function openPtyPair(): Promise<PtyPair> {
  if (!existsSync(SOCAT)) {
    throw new Error(`socat is needed for the RTU tests and was not found at ${SOCAT}: install it (Debian/Ubuntu: apt-get install -y socat) or set SOCAT=/path/to/socat`);
  }
  const id = randomUUID().slice(0, 8);
  const a = path.join(os.tmpdir(), `estate-rtu-${id}-a`);
  const b = path.join(os.tmpdir(), `estate-rtu-${id}-b`);
  const child: ChildProcess = spawn(SOCAT, ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  // socat logs "starting data transfer loop" once both ends exist.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socat did not make the pty pair within 5 s: ${stderr}`)), 5000);
    const check = () => {
      if (stderr.includes('starting data transfer loop') && existsSync(a) && existsSync(b)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`socat exited with ${code}: ${stderr}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  return {
    a,
    b,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
