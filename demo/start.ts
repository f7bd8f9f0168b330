import { createLogger } from '../cloud/src/http/logger.js';
import { configFromEnvironmentOrExit, stopOnSignals } from '../cloud/src/process-lifecycle.js';
import { cloudBanner } from '../cloud/src/server.js';
import { startDemoCommunity } from './community.js';

/**
 * `npm start`: a whole demo community on one machine, no services needed: the cloud (API, pages,
 * embedded broker, PGlite), one edge gateway, and simulated electricity and water meters for every house.
 */
async function main(): Promise<void> {
  const config = configFromEnvironmentOrExit();
  const log = createLogger(config.LOG_LEVEL, undefined, { pretty: config.NODE_ENV === 'development' && process.stdout.isTTY === true });
  const demo = await startDemoCommunity(config, log);
  // Give the gateway a moment to connect, so the banner can say it is online.
  for (let waited = 0; !demo.gateway.isConnected() && waited < 5000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  const first = await demo.cloud.deps.db.query.meters.findFirst({ where: (m, { eq, and, isNull }) => and(eq(m.gatewayId, demo.gatewayId), isNull(m.removedAt)) });
  console.log(
    [
      '',
      ...cloudBanner(demo.cloud),
      '',
      'Demo devices:',
      `  Edge gateway   ${demo.gatewayId} (${demo.gateway.isConnected() ? 'online' : 'connecting'}), data in ${config.DATA_DIR}/demo-gateway`,
      `  Meters         ${demo.meters} simulated Modbus meters on ${demo.buses.length} buses (${demo.buses.map((b) => `127.0.0.1:${b.port}`).join(', ')}), polled every 30 s`,
      `  Readings       GET ${demo.cloud.baseUrl}/v1/meters/${first?.id ?? '{meterId}'}/readings (log in as admin; first readings within a minute)`,
      `  Doors          ${demo.doors.length} simulated BLE locks (${demo.doors.map((d) => `${d.code} ${d.name}`).join(', ')})`,
      `                 open one: ${demo.cloud.baseUrl}/h5 -> log in with an owner's phone above -> 开门; staff see the access records at /console`,
      `  Door readers   POST ${demo.readerUrl ?? '(not started)'}/doors/{code}/scan with a QR code's text, as a reader at the door would`,
      `  Bills          this month's bills are posted: owners see theirs at ${demo.cloud.baseUrl}/h5 -> 账单 (why each fen is charged);`,
      `                 finance (login "finance") runs, posts and corrects them at ${demo.cloud.baseUrl}/console -> 账单`,
      '',
    ].join('\n'),
  );
  stopOnSignals(log, () => demo.stop());
}

await main();
