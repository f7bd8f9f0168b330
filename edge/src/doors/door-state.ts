import type { KeyObject } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import { REPLAY_MEMORY_MS, signingKeyObject, type DoorKeySet, type DoorRevocations, type DoorRoster, type RosterDoor } from '@estate/protocol';

type Uses = { count: number; until: number };

/**
 * What a gateway must know to decide on a door by itself, on disk in its LMDB environment so a restart
 * with the cloud unreachable still knows every key, revocation and use:
 *
 * - the door roster (doors.sync), the key set and the revocation list (retained shared state), each kept
 *   only if newer than what is held (a broker restart may hand back a stale retained copy);
 * - uses per limited credential, and the replay keys of recent tokens.
 *
 * Reads are from memory; writes go through LMDB's synchronous transactions first.
 */
export class DoorState {
  private readonly meta: Database<unknown, string>;
  private readonly uses: Database<Uses, string>;
  private readonly replays: Database<number, string>;
  private roster: DoorRoster | null;
  private keySet: DoorKeySet | null;
  private revocations: DoorRevocations | null;
  private revoked = new Set<string>();
  private keys = new Map<string, { key: KeyObject; notAfter: number }>();
  private doorsById = new Map<string, RosterDoor>();

  constructor(private readonly root: RootDatabase) {
    this.meta = root.openDB<unknown, string>({ name: 'doors-meta' });
    this.uses = root.openDB<Uses, string>({ name: 'doors-uses' });
    this.replays = root.openDB<number, string>({ name: 'doors-replays' });
    this.roster = (this.meta.get('roster') as DoorRoster | undefined) ?? null;
    this.keySet = (this.meta.get('keySet') as DoorKeySet | undefined) ?? null;
    this.revocations = (this.meta.get('revocations') as DoorRevocations | undefined) ?? null;
    this.index();
  }

  /** Takes a roster if it is newer than the one held; returns whether it did. */
  applyRoster(roster: DoorRoster): boolean {
    if (this.roster && roster.revision <= this.roster.revision) return false;
    this.meta.putSync('roster', roster);
    this.roster = roster;
    this.index();
    return true;
  }

  applyKeySet(keySet: DoorKeySet): boolean {
    if (this.keySet && keySet.version <= this.keySet.version) return false;
    this.meta.putSync('keySet', keySet);
    this.keySet = keySet;
    this.index();
    return true;
  }

  applyRevocations(revocations: DoorRevocations): boolean {
    if (this.revocations && revocations.version <= this.revocations.version) return false;
    this.meta.putSync('revocations', revocations);
    this.revocations = revocations;
    this.index();
    return true;
  }

  versions(): { roster: number | null; keySet: number | null; revocations: number | null } {
    return { roster: this.roster?.revision ?? null, keySet: this.keySet?.version ?? null, revocations: this.revocations?.version ?? null };
  }

  doors(): readonly RosterDoor[] {
    return this.roster?.doors ?? [];
  }

  door(doorId: string): RosterDoor | undefined {
    return this.doorsById.get(doorId);
  }

  doorByCode(code: number): RosterDoor | undefined {
    return this.roster?.doors.find((d) => d.code === code);
  }

  /** A signing key in force now; keys past their notAfter are not (whatever they signed has expired). */
  signingKey(keyId: string, now = Date.now()): KeyObject | undefined {
    const entry = this.keys.get(keyId);
    return entry && entry.notAfter > now ? entry.key : undefined;
  }

  isRevoked(credentialId: string): boolean {
    return this.revoked.has(credentialId);
  }

  usesSoFar(credentialId: string): number {
    return this.uses.get(credentialId)?.count ?? 0;
  }

  seen(replayKey: string, now = Date.now()): boolean {
    const until = this.replays.get(replayKey);
    return until !== undefined && until > now;
  }

  /**
   * Records a token as used (its replay key) and, for a limited key, one use, in one transaction before
   * the lock is asked to open: two scans of the same token, or two tokens racing for a key's last use,
   * cannot both get through. `release` gives the use back when the lock then fails.
   */
  consume(input: { credentialId: string; replayKey: string; limited: boolean; validUntil: Date }, now = Date.now()): { release(): void } {
    this.root.transactionSync(() => {
      this.replays.putSync(input.replayKey, now + REPLAY_MEMORY_MS);
      if (input.limited) {
        const current = this.uses.get(input.credentialId)?.count ?? 0;
        this.uses.putSync(input.credentialId, { count: current + 1, until: input.validUntil.getTime() });
      }
    });
    return {
      release: () => {
        if (!input.limited) return;
        this.root.transactionSync(() => {
          const current = this.uses.get(input.credentialId);
          if (current && current.count > 0) this.uses.putSync(input.credentialId, { ...current, count: current.count - 1 });
        });
      },
    };
  }

  /** Forgets replay keys no clock can accept any more, and uses of keys that have expired. */
  prune(now = Date.now()): number {
    let removed = 0;
    this.root.transactionSync(() => {
      for (const { key, value } of this.replays.getRange({})) {
        if (value <= now) {
          this.replays.removeSync(key);
          removed += 1;
        }
      }
      for (const { key, value } of this.uses.getRange({})) {
        if (value.until <= now) {
          this.uses.removeSync(key);
          removed += 1;
        }
      }
    });
    return removed;
  }

  private index(): void {
    this.doorsById = new Map((this.roster?.doors ?? []).map((d) => [d.doorId, d]));
    this.revoked = new Set((this.revocations?.entries ?? []).map((e) => e.id));
    this.keys = new Map(
      (this.keySet?.keys ?? []).map((k) => [k.keyId, { key: signingKeyObject(Buffer.from(k.publicKey, 'base64url')), notAfter: k.notAfter ? Date.parse(k.notAfter) : Number.POSITIVE_INFINITY }]),
    );
  }
}
