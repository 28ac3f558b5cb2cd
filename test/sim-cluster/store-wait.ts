// Test helper: waits, without polling, until a condition over the store holds.
import type { Store } from './store.js';

/** Resolves with `probe()`'s first non-undefined value, re-checked after every store change. */
export function waitForStore<T>(store: Store, probe: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const check = (): boolean => {
      const value = probe();
      if (value === undefined) return false;
      unsubscribe();
      clearTimeout(timer);
      resolve(value);
      return true;
    };
    const unsubscribe = store.on(() => { check(); });
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    check();
  });
}
