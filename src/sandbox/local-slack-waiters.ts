// Promises that settle once a local server's state passes a check: no polling, a deadline, rejected on close.

interface Waiter {
  check: () => boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

export class Waiters {
  private readonly pending = new Set<Waiter>();
  private closed = false;

  /** `name` starts each rejection's message: the local server the test waited on. */
  constructor(private readonly name = 'LocalSlack') {}

  /** Resolves as soon as `check` passes (now or after a later `wake`); rejects with `explain()` after the deadline. */
  until(check: () => boolean, timeoutMs: number, explain: () => string): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.name} closed`));
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.pending.delete(waiter);
          reject(new Error(`${this.name}: ${explain()}`));
        }, timeoutMs),
      };
      this.pending.add(waiter);
    });
  }

  /** Re-runs every pending check; call after each change of state. */
  wake(): void {
    for (const waiter of [...this.pending]) {
      let passed: boolean;
      try {
        passed = waiter.check();
      } catch (err) {
        this.settle(waiter);
        waiter.reject(err);
        continue;
      }
      if (passed) {
        this.settle(waiter);
        waiter.resolve();
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const waiter of [...this.pending]) {
      this.settle(waiter);
      waiter.reject(new Error(`${this.name} closed`));
    }
  }

  private settle(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.pending.delete(waiter);
  }
}
