// In-process event bus: what the daemon does, fanned out to gRPC Events subscribers and metrics.
import type { Event } from './generated/layerkeep/v1/Event.js';

export type DaemonEvent = Omit<Event, 'time'> & { type: string };
export type EventListener = (e: Event) => void;

export interface EventBus {
  emit(e: DaemonEvent): void;
  subscribe(fn: EventListener): () => void;
  subscribers(): number;
}

export function createEventBus(): EventBus {
  const listeners = new Set<EventListener>();
  return {
    emit(e) {
      const full: Event = { time: new Date().toISOString(), ...e };
      for (const fn of listeners) {
        try {
          fn(full);
        } catch {
          // a broken subscriber must not stop the others
        }
      }
    },
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    subscribers: () => listeners.size,
  };
}
