// The failures a test asks a local server to answer with next, queued by method or path: each is used once.

export class FailureQueues<F> {
  private readonly queues = new Map<string, F[]>();

  /** The next `times` calls to `key` (that `take` matches) fail this way. */
  add(key: string, failure: F, times = 1): void {
    const queue = this.queues.get(key) ?? [];
    for (let i = 0; i < times; i++) queue.push(failure);
    this.queues.set(key, queue);
  }

  /** Removes and returns the first failure queued for `key` that `matches` this call, if any. */
  take(key: string, matches: (failure: F) => boolean = () => true): F | undefined {
    const queue = this.queues.get(key) ?? [];
    const at = queue.findIndex(matches);
    return at < 0 ? undefined : queue.splice(at, 1)[0];
  }
}
