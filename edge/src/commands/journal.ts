import type { Database, RootDatabase } from 'lmdb';
import type { CommandResult } from '@estate/protocol';

type Entry = { state: 'received' | 'answered'; name: string; receivedAt: number; status?: CommandResult['status'] };

/** How long a command id is remembered; QoS 1 redelivery and cloud retries happen well within it. */
export const JOURNAL_RETENTION_MS = 7 * 24 * 3600 * 1000;

/**
 * The command ids a gateway has seen, on disk (in the outbox's LMDB environment), so the same commandId
 * delivered twice ([MQTT-4.3.2]: QoS 1 is at least once, and the broker re-sends on a resumed session)
 * runs once and is answered once, across restarts too. An id is `received` from the moment the message
 * is taken (before its PUBACK) and becomes `answered` in the same transaction that stores the result in
 * the outbox.
 */
export class CommandJournal {
  private readonly db: Database<Entry, string>;

  constructor(private readonly root: RootDatabase) {
    this.db = root.openDB<Entry, string>({ name: 'command-journal' });
  }

  /** Records a new command id; false if it was seen before (a duplicate: do nothing). */
  receive(commandId: string, name: string, now = Date.now()): boolean {
    return this.root.transactionSync(() => {
      if (this.db.get(commandId) !== undefined) return false;
      this.db.putSync(commandId, { state: 'received', name, receivedAt: now });
      return true;
    });
  }

  /** Call inside the outbox transaction that stores the result (Outbox.append's `within`). */
  markAnswered(commandId: string, status: CommandResult['status']): void {
    const entry = this.db.get(commandId);
    this.db.putSync(commandId, { name: entry?.name ?? 'unknown', receivedAt: entry?.receivedAt ?? Date.now(), state: 'answered', status });
  }

  state(commandId: string): Entry['state'] | null {
    return this.db.get(commandId)?.state ?? null;
  }

  /** Commands taken but never answered: the process died while running them. */
  unanswered(): { commandId: string; name: string }[] {
    const found: { commandId: string; name: string }[] = [];
    for (const { key, value } of this.db.getRange({})) {
      if (value.state === 'received') found.push({ commandId: key, name: value.name });
    }
    return found;
  }

  /** Forgets answered ids older than the retention. */
  prune(now = Date.now()): number {
    let removed = 0;
    this.root.transactionSync(() => {
      for (const { key, value } of this.db.getRange({})) {
        if (value.state === 'answered' && now - value.receivedAt > JOURNAL_RETENTION_MS) {
          this.db.removeSync(key);
          removed += 1;
        }
      }
    });
    return removed;
  }
}
