import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';

/**
 * The gateway's embedded store: one LMDB environment under `{dataDir}/store`, holding the outbox (one
 * database per uplink channel plus the sequence counter) and the command journal, so a command's
 * result and the journal entry that marks it answered commit in one transaction.
 *
 * Why LMDB (the `lmdb` package): a B+tree in a memory map with ACID transactions and copy-on-write pages,
 * so a kill -9 or power cut never leaves a torn record, and the write path is a synchronous transaction
 * (the sequence number and the record commit together, or neither does). It is a mature C library, the
 * npm package ships prebuilt binaries inside its npm packages (no download at install), keys are ordered
 * (replay in sequence order is a range scan) and reads need no copy. SQLite (better-sqlite3) would also do,
 * but needs a native build or a download where no prebuild matches; LevelDB (classic-level) has no
 * multi-key transactions in its API; an append-only JSON file would need its own compaction and
 * torn-write recovery.
 *
 * Durability: lmdb-js's default sync mode is kept: `transactionSync` returns after the commit has been
 * written and fsynced, so a record survives kill -9 and a power cut alike. It costs about 0.5 ms per
 * record on this machine's disk (a few ms on an SD card), far above what 500 meters polled every
 * 15 minutes need.
 */
export function openGatewayStore(dataDir: string): RootDatabase {
  const path = join(dataDir, 'store');
  mkdirSync(path, { recursive: true });
  return open({ path, compression: false });
}
