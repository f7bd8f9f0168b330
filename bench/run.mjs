#!/usr/bin/env node
// `npm run bench -- NAME [args...]` runs bench/NAME.ts with tsx, streaming its output, and exits with its
// exit code. Without a NAME, or with an unknown one, it lists the benches there are.
//
// A bench's last line on stdout is one JSON object: {"name", "unit", "value", "baseline", "ratio", ...}.
// This runner warns when a bench that succeeded did not end that way, so CI can collect the figures.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [name, ...args] = process.argv.slice(2);

const benches = readdirSync(here)
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.endsWith('.d.ts'))
  .map((file) => file.slice(0, -'.ts'.length))
  .sort();

if (!name || !benches.includes(name)) {
  const out = name ? console.error : console.log;
  if (name) out(`Unknown bench "${name}".\n`);
  out('Usage: npm run bench -- NAME [args...]\n');
  if (benches.length === 0) out('No benches yet (add bench/NAME.ts).');
  else {
    out('Benches:');
    const width = Math.max(...benches.map((b) => b.length));
    for (const bench of benches) out(`  ${bench.padEnd(width)}  ${describe(bench)}`);
  }
  process.exit(name ? 2 : 0);
}

const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
const child = spawn(process.execPath, [tsxCli, path.join(here, `${name}.ts`), ...args], {
  stdio: ['inherit', 'pipe', 'inherit'],
});

// Stream stdout through untouched while remembering its last non-empty line.
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-64 * 1024);
});

// Ctrl-C reaches the bench through the terminal's process group; a TERM from a CI runner is passed on.
for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));

child.on('error', (error) => {
  console.error(`bench: cannot start tsx: ${error.message}`);
  process.exit(1);
});

child.on('close', (code, signal) => {
  if (code === 0) checkResultLine(tail);
  if (signal) process.exit(128 + (signalNumber(signal) ?? 1));
  process.exit(code ?? 1);
});

/** The first `//` comment line of a bench, as its one-line description. */
function describe(bench) {
  const text = readFileSync(path.join(here, `${bench}.ts`), 'utf8');
  const line = text.split('\n').find((l) => /^\s*(\/\/|\*|\/\*\*)\s*\S/.test(l) && !l.startsWith('#!'));
  return line ? line.replace(/^\s*(\/\/|\/\*\*|\*)\s*/, '').replace(/\*\/\s*$/, '').trim() : '';
}

function checkResultLine(output) {
  const last = output.trimEnd().split('\n').at(-1) ?? '';
  try {
    const result = JSON.parse(last);
    if (result && typeof result === 'object' && 'name' in result && 'unit' in result && 'value' in result) return;
  } catch {
    // fall through to the warning
  }
  console.error(`bench: warning: the last line of bench/${name}.ts is not a JSON result {"name", "unit", "value", "baseline", "ratio", ...}`);
}

function signalNumber(signal) {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal];
}
