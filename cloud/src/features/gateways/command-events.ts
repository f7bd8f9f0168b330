import { EventEmitter } from 'node:events';
import type { AppDeps } from '../../context.js';

const emitters = new WeakMap<AppDeps, EventEmitter>();

/**
 * In-process news that a command's result was committed, so a request waiting for it answers at once.
 * Only a hint: waiters also poll the table, since with several cloud processes the result may be
 * ingested by another one.
 */
export function commandEvents(deps: AppDeps): EventEmitter {
  let emitter = emitters.get(deps);
  if (!emitter) {
    emitter = new EventEmitter();
    emitter.setMaxListeners(0);
    emitters.set(deps, emitter);
  }
  return emitter;
}
