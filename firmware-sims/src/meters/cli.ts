// Runs simulated Modbus meter buses for people, the demo and bench/edge-poll.
//
//   npx tsx firmware-sims/src/meters/cli.ts --buses 2 --meters 20 --speed 60
//   npx tsx firmware-sims/src/meters/cli.ts --transport rtu --path /tmp/ttyA --meters 8
//
// Options: --transport tcp|rtu, --buses N (TCP), --meters N per bus, --port P (first bus; 0 = free ports),
// --host H, --path DEV (RTU), --baud N, --models A,B (cycled over unit ids), --speed F (clock runs F times
// faster), --seed N, --json (print one JSON line describing the buses, then only errors), --exit-with-stdin
// (stop when stdin closes: a parent process that dies takes the simulator with it).
// While running, stdin takes `fault BUS UNIT KIND` (timeout|exception|garbage|rollback|replace|rollover),
// `clear BUS UNIT` and `show BUS UNIT`.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { METER_MODELS } from '@estate/protocol';
import { acceleratedClock } from './clock.js';
import { startMeterServer, type MeterServer, type MeterServerOptions } from './meter-server.js';
import type { MeterFaultKind, SimMeter } from './sim-meter.js';

const { values: args } = parseArgs({
  options: {
    transport: { type: 'string', default: 'tcp' },
    buses: { type: 'string', default: '1' },
    meters: { type: 'string', default: '10' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    path: { type: 'string' },
    baud: { type: 'string', default: '9600' },
    models: { type: 'string', default: 'DTSY-TOU,LXSY-RS485' },
    speed: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    'exit-with-stdin': { type: 'boolean', default: false },
  },
});

const fail = (message: string): never => {
  console.error(`meter sim: ${message}`);
  process.exit(2);
};
const int = (name: string, text: string | undefined, min: number, max: number): number => {
  const n = Number(text);
  return Number.isInteger(n) && n >= min && n <= max ? n : fail(`--${name} must be an integer ${min}-${max}, got "${text}"`);
};

const transport: 'tcp' | 'rtu' = args.transport === 'rtu' ? 'rtu' : args.transport === 'tcp' ? 'tcp' : fail(`--transport must be tcp or rtu`);
const busCount = transport === 'rtu' ? 1 : int('buses', args.buses, 1, 100);
const perBus = int('meters', args.meters, 1, 247);
const models = (args.models ?? '').split(',').filter(Boolean);
for (const m of models) if (!METER_MODELS.has(m)) fail(`unknown model "${m}"; known: ${[...METER_MODELS.keys()].join(', ')}`);
const speed = Number(args.speed);
if (!(speed > 0)) fail('--speed must be a positive number');
const seed = int('seed', args.seed, 0, 2 ** 31);
const firstPort = int('port', args.port, 0, 65535);
const clock = acceleratedClock(speed);

const buses: MeterServer[] = [];
for (let b = 0; b < busCount; b++) {
  const meters: SimMeter[] = Array.from({ length: perBus }, (_, i) => ({ unitId: i + 1, model: models[i % models.length]!, seed: seed * 100_000 + b * 1000 + i }));
  const options: MeterServerOptions =
    transport === 'tcp'
      ? { transport, port: firstPort === 0 ? 0 : firstPort + b, host: args.host, clock }
      : { transport, path: args.path ?? fail('--path is needed for RTU'), baudRate: int('baud', args.baud, 300, 4_000_000), clock };
  buses.push(await startMeterServer(options, meters));
}

const description = buses.map((bus, index) => ({
  index,
  transport,
  host: transport === 'tcp' ? args.host : undefined,
  port: bus.port,
  path: bus.path,
  meters: [...bus.meters.values()].map((m) => ({ unitId: m.unitId, model: m.model.model, serial: m.serial })),
}));
if (args.json) console.log(JSON.stringify({ buses: description }));
else {
  for (const bus of description) console.log(`bus ${bus.index}: ${bus.port ? `tcp ${args.host}:${bus.port}` : `rtu ${bus.path}`}, ${bus.meters.length} meters (${models.join(', ')}), clock x${speed}`);
  console.log('stdin: fault BUS UNIT KIND | clear BUS UNIT | show BUS UNIT');
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [verb, busText, unitText, kind] = line.trim().split(/\s+/);
  const bus = buses[Number(busText)];
  try {
    if (!verb) return;
    if (!bus) throw new Error(`no bus ${busText}`);
    const unitId = Number(unitText);
    if (verb === 'fault') bus.setFault(unitId, kind as MeterFaultKind);
    else if (verb === 'clear') bus.setFault(unitId, null);
    else if (verb !== 'show') throw new Error(`unknown command "${verb}"`);
    console.log(JSON.stringify({ bus: Number(busText), unitId, serial: bus.meters.get(unitId)?.serial, fault: bus.meters.get(unitId)?.fault, values: bus.values(unitId) }));
  } catch (error) {
    console.error(`meter sim: ${(error as Error).message}`);
  }
});

const stop = async () => {
  await Promise.all(buses.map((bus) => bus.close()));
  process.exit(0);
};
if (args['exit-with-stdin']) process.stdin.once('end', () => void stop());
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
