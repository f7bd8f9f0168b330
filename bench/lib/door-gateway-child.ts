// The door gateway of bench/doors.ts --topology split, in a process of its own as in production (where it
// is a separate box): the edge gateway (startGateway) with a simulated BLE radio and its locks, answering
// at once (latency 0). The cloud, its broker and the load generator stay in the parent, which drives this
// process over IPC (calls in door-gateway-ipc.ts) and reaches the gateway's reader over HTTP.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startGateway, type Gateway } from '../../edge/src/index.js';
import { silentLogger } from '../../edge/src/log.js';
import { SimRadio } from '../../firmware-sims/src/index.js';
import { hrMs, runQueueMs, type FromGatewayProcess, type GatewayCall, type GatewayCalls, type GatewayMarks, type ProcessSample, type ToGatewayProcess } from './door-gateway-ipc.js';

const radio = new SimRadio();
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'estate-bench-door-gw-'));
let gateway: Gateway | null = null;
let marks: GatewayMarks = {};
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const doorsOf = () => {
  const doors = gateway?.doors;
  if (!doors) throw new Error('the gateway is not started (or runs no doors)');
  return doors;
};

/** Marks when each online open enters and leaves the gateway's door service (a bench-side wrapper, as in the single process). */
function markOpens(): void {
  const doors = doorsOf();
  const openOnline = doors.openOnline.bind(doors);
  doors.openOnline = async (params, commandId) => {
    (marks[commandId] ??= {}).gatewayIn = hrMs();
    try {
      return await openOnline(params, commandId);
    } finally {
      marks[commandId]!.gatewayOut = hrMs();
    }
  };
}

function sample(): ProcessSample {
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const loopDelayP99 = Number((delay.percentile(99) / 1e6).toFixed(1));
  delay.reset();
  return { at: performance.now(), cpuMicros: cpu.user + cpu.system, eluActive: elu.active, eluIdle: elu.idle, loopDelayP99, runQueueMs: runQueueMs() };
}

const handlers: { [K in GatewayCall]: (args: GatewayCalls[K]['args']) => Promise<GatewayCalls[K]['result']> } = {
  async start({ config, statusEveryMs }) {
    gateway = await startGateway({
      config,
      dataDir,
      log: silentLogger,
      backoff: { baseMs: 50, maxMs: 200 },
      doors: { openCentral: async () => radio.central(), reader: { host: '127.0.0.1', port: 0 }, statusEveryMs },
    });
    markOpens();
    return { bootId: gateway.bootId };
  },
  async locks({ locks, doors: expected }) {
    for (const { address, secret } of locks) radio.addLock({ address, secret: Buffer.from(secret, 'base64url'), latencyMs: () => 0, autoRelockMs: 50 });
    const doors = doorsOf();
    const deadline = Date.now() + 10_000;
    while (doors.readerUrl() === null || doors.doors().length < expected) {
      if (Date.now() > deadline) throw new Error(`the gateway holds ${doors.doors().length} of ${expected} doors after 10 s`);
      await sleep(20);
    }
    return { readerUrl: doors.readerUrl()!, doors: [...doors.doors()] };
  },
  versions: async () => doorsOf().versions(),
  async revocations({ atLeast, timeoutMs }) {
    const doors = doorsOf();
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const version = doors.versions().revocations ?? 0;
      if (version >= atLeast) return { version, at: hrMs() };
      if (performance.now() > deadline) throw new Error(`the gateway did not receive revocation list ${atLeast} within ${timeoutMs} ms (holds ${version})`);
      await sleep(1);
    }
  },
  async outbox() {
    const stats = gateway!.outboxStats();
    return { depth: stats.depth, byChannel: stats.byChannel };
  },
  async marks() {
    const taken = marks;
    marks = {};
    return taken;
  },
  sample: async () => sample(),
  async stop() {
    await gateway?.stop();
    gateway = null;
    rmSync(dataDir, { recursive: true, force: true });
    return {};
  },
};

const reply = (message: FromGatewayProcess) => process.send!(message);

process.on('message', (message: ToGatewayProcess) => {
  const handle = handlers[message.call] as (args: unknown) => Promise<unknown>;
  handle(message.args).then(
    (result) => {
      reply({ id: message.id, ok: true, result });
      if (message.call === 'stop') process.disconnect();
    },
    (error: unknown) => reply({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});

// The parent gone (finished or crashed): stop rather than linger.
process.on('disconnect', () => {
  const stopping = gateway?.stop().catch(() => undefined);
  void Promise.resolve(stopping).finally(() => {
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
});
