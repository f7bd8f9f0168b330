// Edge Modbus polling: one gateway driver reading 500 simulated meters on 10 TCP buses (target: >= 10,000 registers/s, RSS < 120 MiB).
//
// Run: npx tsx bench/edge-poll.ts [seconds] [--under-tsx]   (npm run bench -- edge-poll)
// The meters run in a child process (firmware-sims' CLI), so CPU share and RSS are the gateway's own.
// Phases, each for the same window: (1) the driver polling back to back (pollIntervalMs 0): its capacity;
// (2) the driver on the configured schedule (pollSeconds 1, the schema's minimum): the load 500 meters
// really ask for; (3) baseline: raw jsmodbus reads of the same register blocks, one client per meter,
// one request at a time per bus, with no scheduling, framing checks or decoding.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { meterModel, MeterConfig, ModbusBus, planReads, type GatewayConfig } from '@estate/protocol';
import { ModbusTCPClient } from 'jsmodbus';
import { ModbusMeterDriver, type PollOutcome } from '../edge/src/drivers/modbus/index.js';

// The gateway ships as one bundle on plain node (edge/scripts/build.mjs; `npm start -w edge`) with V8's young
// generation capped (--max-semi-space-size=2: at 10,000+ polls/s V8 otherwise grows it to 16 MiB per
// semi-space, about 30 MiB of RSS for garbage, at no gain in throughput). The bench measures the driver the
// way the gateway runs: it bundles itself and re-runs under plain node with that flag. `--under-tsx`
// measures it under tsx's loader instead (about 44 MiB more RSS).
const SEMI_SPACE = '--max-semi-space-size=2';
const root = process.env['ESTATE_ROOT'] ?? path.dirname(path.dirname(fileURLToPath(import.meta.url)));
if (!process.argv.includes('--under-tsx') && !process.env['ESTATE_BUNDLED']) {
  const { bundleForNode } = (await import(pathToFileURL(path.join(root, 'edge/scripts/build.mjs')).href)) as { bundleForNode(entry: string, out: string): Promise<void> };
  const bundle = path.join(root, 'node_modules/.cache/bench/edge-poll.mjs');
  await bundleForNode(fileURLToPath(import.meta.url), bundle);
  const self = spawn(process.execPath, [SEMI_SPACE, bundle, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, ESTATE_BUNDLED: '1', ESTATE_ROOT: root } });
  self.on('exit', (code) => process.exit(code ?? 1));
  await new Promise(() => undefined);
}
const SECONDS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 12);
const BUSES = 10;
const PER_BUS = 50;
const MODELS = ['DTSY-TOU', 'LXSY-RS485', 'DDSU666'];
const TARGET_REGISTERS = 10_000;
const TARGET_RSS_MIB = 120;
type SimBus = { port: number; meters: { unitId: number; model: string }[] };

async function startSims(): Promise<{ buses: SimBus[]; stop: () => void }> {
  const tsx = createRequire(import.meta.url).resolve('tsx/cli');
  const args = [tsx, path.join(root, 'firmware-sims/src/meters/cli.ts'), '--buses', String(BUSES), '--meters', String(PER_BUS), '--models', MODELS.join(','), '--speed', '60', '--json', '--exit-with-stdin'];
  // The simulator exits when its stdin closes, so it cannot outlive this process even after a crash.
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  process.once('exit', () => child.kill('SIGTERM'));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`meter simulator exited with ${code}`)));
  });
  return { buses: (JSON.parse(line) as { buses: SimBus[] }).buses, stop: () => child.kill('SIGTERM') };
}

function gatewayConfig(buses: SimBus[]): GatewayConfig['modbus'] {
  return {
    buses: buses.map((b, i) => ModbusBus.parse({ id: `bus-${i}`, transport: 'tcp', host: '127.0.0.1', port: b.port })),
    meters: buses.flatMap((b, i) => b.meters.map((m) => MeterConfig.parse({ id: `m-${i}-${m.unitId}`, bus: `bus-${i}`, unitId: m.unitId, model: m.model, pollSeconds: 1, timeoutMs: 1000, retries: 2 }))),
  };
}

type Figures = { registersPerSecond: number; pollsPerSecond: number; failed: number; p50: number; p99: number; cpuShare: number; peakRssMiB: number };

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;
}

async function measure(run: (onPoll: (o: PollOutcome) => void) => Promise<() => Promise<void>>): Promise<Figures> {
  // Durations go into a typed array, not 100,000 objects, so the bench does not inflate the RSS it reports.
  let durations = new Float64Array(1 << 16);
  let ok = 0;
  let failed = 0;
  let registers = 0;
  let counting = false;
  const stop = await run((o) => {
    if (!counting) return;
    if (!o.ok) return void failed++;
    if (ok === durations.length) {
      const grown = new Float64Array(durations.length * 2);
      grown.set(durations);
      durations = grown;
    }
    durations[ok++] = o.durationMs;
    registers += o.registers;
  });
  await sleep(1000); // connect and settle: the window measures steady polling
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
  const cpu = process.cpuUsage();
  const started = performance.now();
  counting = true;
  await sleep(SECONDS * 1000);
  counting = false;
  const wall = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  clearInterval(sampler);
  await stop();
  const sorted = durations.subarray(0, ok).sort(); // a typed array sorts numerically, in place
  return {
    registersPerSecond: registers / wall,
    pollsPerSecond: ok / wall,
    failed,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpuShare: (used.user + used.system) / 1e6 / wall,
    peakRssMiB: peakRss / 1024 / 1024,
  };
}

function driverRun(config: GatewayConfig['modbus'], pollIntervalMs: number | undefined) {
  return async (onPoll: (o: PollOutcome) => void) => {
    const driver = new ModbusMeterDriver({ config, onReading: () => undefined, onPoll, ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }) });
    await driver.start();
    return () => driver.stop();
  };
}

/** Raw jsmodbus: one client and socket per meter, reads of the same blocks in turn per bus, nothing decoded. */
function rawRun(buses: SimBus[]) {
  return async (onPoll: (o: PollOutcome) => void) => {
    let running = true;
    const sockets: net.Socket[] = [];
    const loops = buses.map(async (bus) => {
      const meters = await Promise.all(
        bus.meters.map(async (m) => {
          const socket = net.createConnection({ host: '127.0.0.1', port: bus.port });
          socket.setNoDelay(true);
          sockets.push(socket);
          // jsmodbus goes online on the socket's 'connect' event, so the client must exist before it.
          const client = new ModbusTCPClient(socket, m.unitId, 1000);
          await new Promise((resolve) => socket.once('connect', resolve));
          return { id: `${bus.port}/${m.unitId}`, client, blocks: planReads(meterModel(m.model).points) };
        }),
      );
      while (running) {
        for (const m of meters) {
          if (!running) break;
          const started = performance.now();
          let registers = 0;
          for (const b of m.blocks) {
            const { response } = b.table === 'holding' ? await m.client.readHoldingRegisters(b.start, b.count) : await m.client.readInputRegisters(b.start, b.count);
            registers += response.body.valuesAsArray.length;
          }
          onPoll({ meterId: m.id, ok: true, durationMs: performance.now() - started, registers, error: null });
        }
      }
    });
    return async () => {
      running = false;
      await Promise.allSettled(loops);
      for (const s of sockets) s.destroy();
    };
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const sims = await startSims();
try {
  const config = gatewayConfig(sims.buses);
  console.log(`gateway process RSS before the driver starts: ${fmt(process.memoryUsage.rss() / 1024 / 1024, 1)} MiB (${process.env['ESTATE_BUNDLED'] ? 'bundled, plain node' : "tsx's loader thread included"}; flags ${process.execArgv.join(' ') || 'none'})`);
  console.log(`edge-poll: ${config.meters.length} meters (${MODELS.join(', ')}) on ${config.buses.length} Modbus TCP buses, ${SECONDS} s per phase`);
  const capacity = await measure(driverRun(config, 0));
  console.log(`driver, back to back:   ${fmt(capacity.registersPerSecond)} registers/s, ${fmt(capacity.pollsPerSecond)} polls/s, p50 ${fmt(capacity.p50, 2)} ms, p99 ${fmt(capacity.p99, 2)} ms, CPU ${fmt(capacity.cpuShare * 100, 1)} % of a core, peak RSS ${fmt(capacity.peakRssMiB, 1)} MiB, ${capacity.failed} failed polls`);
  const scheduled = await measure(driverRun(config, undefined));
  console.log(`driver, pollSeconds 1:  ${fmt(scheduled.registersPerSecond)} registers/s, ${fmt(scheduled.pollsPerSecond)} polls/s, p50 ${fmt(scheduled.p50, 2)} ms, p99 ${fmt(scheduled.p99, 2)} ms, CPU ${fmt(scheduled.cpuShare * 100, 1)} % of a core, peak RSS ${fmt(scheduled.peakRssMiB, 1)} MiB, ${scheduled.failed} failed polls`);
  const raw = await measure(rawRun(sims.buses));
  console.log(`baseline, raw jsmodbus: ${fmt(raw.registersPerSecond)} registers/s, ${fmt(raw.pollsPerSecond)} meter reads/s, p50 ${fmt(raw.p50, 2)} ms, p99 ${fmt(raw.p99, 2)} ms, CPU ${fmt(raw.cpuShare * 100, 1)} % of a core`);
  const ratio = capacity.registersPerSecond / raw.registersPerSecond;
  const ok = capacity.registersPerSecond >= TARGET_REGISTERS && capacity.peakRssMiB < TARGET_RSS_MIB;
  console.log(`ratio ${fmt(ratio, 2)}; target >= ${fmt(TARGET_REGISTERS)} registers/s and RSS < ${TARGET_RSS_MIB} MiB: ${ok ? 'met' : 'NOT met'}`);
  console.log(
    JSON.stringify({
      name: 'edge-poll',
      unit: 'registers/s',
      value: Math.round(capacity.registersPerSecond),
      baseline: Math.round(raw.registersPerSecond),
      ratio: Number(ratio.toFixed(3)),
      p50: Number(capacity.p50.toFixed(3)),
      p99: Number(capacity.p99.toFixed(3)),
      cpuShare: Number(capacity.cpuShare.toFixed(3)),
      peakRssMiB: Number(capacity.peakRssMiB.toFixed(1)),
      meters: config.meters.length,
      scheduledRegistersPerSecond: Math.round(scheduled.registersPerSecond),
      scheduledCpuShare: Number(scheduled.cpuShare.toFixed(3)),
      targetRegistersPerSecond: TARGET_REGISTERS,
      targetRssMiB: TARGET_RSS_MIB,
    }),
  );
} finally {
  sims.stop();
}
