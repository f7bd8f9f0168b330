// Bundles the gateway into one ES module for plain `node`: a gateway box then runs without tsx's loader
// thread (about 44 MiB of RSS) and starts faster. Native packages stay external, loaded from node_modules.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * @param {string} entry  TypeScript entry point
 * @param {string} outfile  where the bundle goes
 */
export async function bundleForNode(entry, outfile) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    // Packages with native addons or prebuilt binaries are resolved at run time, as npm installed them.
    external: ['lmdb', '@abandonware/noble', 'serialport', '@serialport/*', 'msgpackr', 'msgpackr-extract', 'ordered-binary', 'weak-lru-cache'],
    // CommonJS dependencies bundled into an ES module still call require() for Node built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleForNode(path.join(here, '../src/main.ts'), path.join(here, '../dist/gateway.mjs'));
  console.log('edge/dist/gateway.mjs written');
}
