/**
 * Child process for drivers.test.ts: a driver whose own timer throws (an error that escapes to the
 * process) next to a healthy one, hosted with isolateUncaught. Prints the driver health as JSON.
 */
import { DriverHost, type DriverEvents, type DriverFactory } from '../src/drivers/host.js';
import { EventBus } from '../src/event-bus.js';
import { silentLogger } from '../src/log.js';
import { testConfig } from './helpers.js';

let readings = 0;
const bus = new EventBus<DriverEvents>(silentLogger);
bus.on('reading', 'test', () => {
  readings += 1;
});
const host = new DriverHost(bus, silentLogger, { isolateUncaught: true, onUnattributedError: () => process.exit(3) });
const status = () => ({ status: 'running' as const, devices: 1, unavailable: 0, lastError: null });
const timebomb: DriverFactory = {
  name: 'timebomb',
  deviceKind: 'lock',
  create: () => ({
    name: 'timebomb',
    start: async () => {
      setTimeout(() => {
        throw new Error('BLE adapter vanished');
      }, 20);
      setTimeout(() => void Promise.reject(new Error('late rejection')), 40);
    },
    stop: async () => {},
    status,
  }),
};
const steady: DriverFactory = {
  name: 'steady',
  deviceKind: 'meter',
  create: ({ onReading }) => {
    let timer: NodeJS.Timeout;
    return {
      name: 'steady',
      start: async () => {
        timer = setInterval(() => onReading({ meterId: 'm-1', readAt: new Date(), values: { energy_kwh: { value: '1', unit: 'kWh' } } }), 10);
      },
      stop: async () => clearInterval(timer),
      status,
    };
  },
};
await host.start([timebomb, steady], testConfig('mqtt://127.0.0.1:1'));
setTimeout(async () => {
  process.stdout.write(`${JSON.stringify({ health: host.health(), readings })}\n`);
  await host.stop();
  process.exit(0);
}, 500);
