// The requests' work a server waits for at close: a piece of work that fails is its caller's to handle.
import { describe, expect, it } from 'vitest';
import { InFlight } from '../../../src/http/server.js';

describe('InFlight', () => {
  it('never turns a piece of work that fails into an unhandled rejection (which ends the process)', async () => {
    const unhandled: unknown[] = [];
    const note = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', note);
    try {
      const caught = Promise.reject(new Error('handled by its caller'));
      caught.catch(() => undefined);
      new InFlight().track(caught);
      // Rejections nobody handled are reported once the microtasks have run: a macrotask later.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', note);
    }
  });
});
