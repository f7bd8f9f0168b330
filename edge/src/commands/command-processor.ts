import { z } from 'zod';
import { Command, decodePayload, parseTopic, type CommandResult, type GatewayAddress, type RejectReason } from '@estate/protocol';
import { errorText, type Logger } from '../log.js';
import { OutboxFullError, type Outbox } from '../outbox/outbox.js';
import type { CommandJournal } from './journal.js';

export type CommandOutcome = { status: Exclude<CommandResult['status'], 'expired'>; error?: { code: string; message: string }; data?: Record<string, unknown> };

/** What commands act on; the runtime provides these. */
export type CommandActions = {
  readNow(meterId: string): Promise<unknown>;
  applyConfig(rawConfig: unknown, commandId: string): Promise<CommandOutcome>;
  /** Online door open; null when this gateway has no doors. */
  openDoor?(params: { doorId: string; token: string }, commandId: string): Promise<CommandOutcome>;
  syncDoors?(roster: unknown): CommandOutcome;
  /** Retained community-wide state (`shared/{name}`): door keys and revocations. */
  shared?(name: string, payload: Buffer): void;
};

export type CommandCounters = {
  received: number;
  duplicates: number;
  expired: number;
  /** Downlink messages refused before they could run, by reason. */
  rejected: Partial<Record<RejectReason, number>>;
};

const CommandIdOnly = z.looseObject({ commandId: z.uuid() });

/**
 * Takes commands from `down/commands` and answers every one exactly once with a CommandResult through
 * the outbox (channel `results`), as zigbee2mqtt answers bridge requests with a response, never a crash:
 * malformed, oversized or unknown-version payloads are counted and logged, and answered `rejected` when
 * their commandId can be read; expired commands are answered `expired` without running; a commandId seen
 * before is ignored (the journal on disk remembers it).
 *
 * `intake` is synchronous and quick (it runs before the PUBACK); commands then run one at a time.
 */
export class CommandProcessor {
  readonly counters: CommandCounters = { received: 0, duplicates: 0, expired: 0, rejected: {} };
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly gateway: GatewayAddress,
    private readonly outbox: Outbox,
    private readonly journal: CommandJournal,
    private readonly actions: CommandActions,
    private readonly log: Logger,
  ) {}

  /** Answers commands that were taken but never answered before the last stop (kill -9 mid-command). */
  answerInterrupted(): void {
    for (const { commandId, name } of this.journal.unanswered()) {
      this.log.warn('command interrupted by a restart; answering error', { commandId, name });
      this.answer(commandId, { status: 'error', error: { code: 'interrupted', message: `the gateway restarted while running ${name}; it may not have completed${name === 'config.apply' ? ' (the config in use is the last one that reached the cloud)' : ''}` } });
    }
  }

  intake(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (parsed?.kind === 'shared' && parsed.communityId === this.gateway.communityId) {
      try {
        this.actions.shared?.(parsed.name, payload);
      } catch (error) {
        this.log.error('shared state could not be applied', { name: parsed.name, error: errorText(error) });
      }
      return;
    }
    if (parsed?.kind !== 'downlink' || parsed.channel !== 'commands') return this.refuse('wrong-topic', `not a command topic: ${topic.slice(0, 200)}`, null);
    if (parsed.communityId !== this.gateway.communityId || parsed.gatewayId !== this.gateway.gatewayId) return this.refuse('gateway-mismatch', `topic is for another gateway: ${topic.slice(0, 200)}`, null);
    const decoded = decodePayload(Command, payload);
    if (!decoded.ok) return this.refuse(decoded.reason, decoded.detail, decoded.reason === 'oversized' ? null : readCommandId(payload));
    const command = decoded.message;
    if (!this.journal.receive(command.commandId, command.name)) {
      this.counters.duplicates += 1;
      this.log.info('duplicate command ignored', { commandId: command.commandId, name: command.name });
      return;
    }
    this.counters.received += 1;
    if (command.name === 'door.open') {
      // Someone is at the door: opens run at once, side by side (each lock serialises its own
      // operations), never behind a slow meter read or a config.apply.
      const running = this.run(command);
      this.concurrent.add(running);
      void running.finally(() => this.concurrent.delete(running));
      return;
    }
    this.queue = this.queue.then(() => this.run(command));
  }

  private readonly concurrent = new Set<Promise<void>>();

  /** Resolves when every command taken so far has been answered. */
  async idle(): Promise<void> {
    await Promise.all([this.queue, ...this.concurrent]);
  }

  private async run(command: Command): Promise<void> {
    const log = this.log.child({ commandId: command.commandId, name: command.name });
    if (Date.parse(command.expiresAt) <= Date.now()) {
      this.counters.expired += 1;
      log.info('command expired before it could run');
      this.answer(command.commandId, { status: 'expired', error: { code: 'expired', message: `expired at ${command.expiresAt}` } });
      return;
    }
    let outcome: CommandOutcome;
    try {
      outcome = await this.execute(command);
    } catch (error) {
      outcome = { status: 'error', error: { code: 'failed', message: errorText(error) } };
    }
    log.info('command answered', { status: outcome.status });
    this.answer(command.commandId, outcome);
  }

  private async execute(command: Command): Promise<CommandOutcome> {
    switch (command.name) {
      case 'ping':
        return { status: 'ok' };
      case 'meter.read-now': {
        try {
          const reading = await this.actions.readNow(command.params.meterId);
          return { status: 'ok', data: { meterId: command.params.meterId, ...(reading && typeof reading === 'object' ? { reading } : {}) } };
        } catch (error) {
          return { status: 'error', error: { code: 'read-failed', message: errorText(error) } };
        }
      }
      case 'config.apply':
        return this.actions.applyConfig(command.params.config, command.commandId);
      case 'door.open':
        if (!this.actions.openDoor) return { status: 'rejected', error: { code: 'no-doors', message: 'this gateway runs no door locks' } };
        return this.actions.openDoor(command.params, command.commandId);
      case 'doors.sync':
        if (!this.actions.syncDoors) return { status: 'rejected', error: { code: 'no-doors', message: 'this gateway runs no door locks' } };
        return this.actions.syncDoors(command.params.roster);
    }
  }

  private refuse(reason: RejectReason, detail: string, commandId: string | null): void {
    this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1;
    this.log.warn('downlink message rejected', { reason, detail: detail.slice(0, 300), commandId });
    if (!commandId || !this.journal.receive(commandId, 'unreadable')) return;
    this.answer(commandId, { status: 'rejected', error: { code: reason, message: detail } });
  }

  private answer(commandId: string, outcome: CommandOutcome | { status: 'expired'; error: { code: string; message: string } }): void {
    const result: Omit<CommandResult, 'seq'> = {
      commandId,
      status: outcome.status,
      at: new Date().toISOString(),
      ...(outcome.error ? { error: { code: outcome.error.code.slice(0, 64), message: outcome.error.message.slice(0, 500) } } : {}),
      ...('data' in outcome && outcome.data ? { data: outcome.data } : {}),
    };
    try {
      this.outbox.append('results', result, () => this.journal.markAnswered(commandId, outcome.status));
    } catch (error) {
      // Full even after evicting telemetry: the id stays `received`, so a restart answers it `interrupted`.
      this.log.error('command result could not be stored', { commandId, full: error instanceof OutboxFullError, error: errorText(error) });
    }
  }
}

function readCommandId(payload: Buffer): string | null {
  try {
    const parsed = CommandIdOnly.safeParse(JSON.parse(payload.toString('utf8')));
    return parsed.success ? parsed.data.commandId : null;
  } catch {
    return null;
  }
}
