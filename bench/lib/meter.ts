// Time spent inside ports, as the union of busy intervals per kind, so overlapping calls are not counted twice.

export type PortKind = 'external' | 'store';

export class Meter {
  private readonly inFlight: Record<PortKind, number> = { external: 0, store: 0 };
  private readonly since: Record<PortKind, number> = { external: 0, store: 0 };
  private readonly busy: Record<PortKind, number> = { external: 0, store: 0 };
  readonly calls: Record<PortKind, number> = { external: 0, store: 0 };

  /** Busy milliseconds of this kind so far, the interval under way included. */
  busyMs(kind: PortKind): number {
    const open = this.inFlight[kind] > 0 ? performance.now() - this.since[kind] : 0;
    return this.busy[kind] + open;
  }

  /** Wraps every method of `target`: its time (to the promise's settling) counts as `kind`. */
  wrap<T extends object>(target: T, kind: PortKind): T {
    return new Proxy(target, {
      get: (t, prop, receiver) => {
        const value: unknown = Reflect.get(t, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          this.enter(kind);
          let result: unknown;
          try {
            result = (value as (...a: unknown[]) => unknown).apply(t, args);
          } catch (err) {
            this.leave(kind);
            throw err;
          }
          if (result instanceof Promise) return result.finally(() => this.leave(kind));
          this.leave(kind);
          return result;
        };
      },
    });
  }

  private enter(kind: PortKind): void {
    this.calls[kind] += 1;
    if (this.inFlight[kind]++ === 0) this.since[kind] = performance.now();
  }

  private leave(kind: PortKind): void {
    if (--this.inFlight[kind] === 0) this.busy[kind] += performance.now() - this.since[kind];
  }
}
