// One operation per key at a time (snapshot, restore): calls for the same key run in order.
export type KeyLock = <T>(key: string, fn: () => Promise<T>) => Promise<T>;

export function createKeyLock(): KeyLock {
  const tails = new Map<string, Promise<unknown>>();
  return async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const prev = tails.get(key) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
