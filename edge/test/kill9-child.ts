/**
 * Child process for kill9.test.ts: runs a gateway whose fake meter driver produces a reading every
 * 2 ms, until the test SIGKILLs it. Args: <config.json> <dataDir>.
 */
import { readFileSync } from 'node:fs';
import type { GatewayConfig } from '@estate/protocol';
import { startGateway } from '../src/gateway.js';
import { silentLogger } from '../src/log.js';
import { FakeMeterDriver } from './helpers.js';

const [configPath, dataDir] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath!, 'utf8')) as GatewayConfig;
const driver = new FakeMeterDriver('fake-meters');
await startGateway({ config, dataDir: dataDir!, drivers: [driver.factory()], log: silentLogger, backoff: { baseMs: 50, maxMs: 200 } });
setInterval(() => driver.emit(), 2);
process.stdout.write('started\n');
