// What the RedisStore's Redis work has in common: a time bound on every answer, and the
// connections the store opens for itself (a Cluster master's subscription, the write connections).
import type { Redis } from 'ioredis';

/** For the 'error' events of a connection whose commands' own errors, or state events, say what matters. */
export const noop = () => {};

export class StoreTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/**
 * `operation`, failing with StoreTimeoutError after `ms`; `onTimeout` runs then. The late answer
 * is absorbed, never unhandled.
 */
export function bounded<T>(operation: Promise<T>, ms: number, onTimeout?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(new StoreTimeoutError(ms));
    }, ms);
    operation.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * A new connection like `template` (to `at` instead, when given), named `name`. Ours alone, and
 * never reconnected nor resent: whoever uses it makes a new one when it ends (a write that needs
 * one, or a fresh look at the slot map), so nothing queued on it runs late.
 */
export function ownConnection(template: Redis, name: string, at?: { host: string; port: number }): Redis {
  const options = {
    lazyConnect: false,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    enableOfflineQueue: true,
    enableAutoPipelining: false,
    readOnly: false,
    maxRetriesPerRequest: 0,
    connectionName: name,
  } as Parameters<Redis['duplicate']>[0];
  return template.duplicate(at ? { ...options, ...at } : options);
}
