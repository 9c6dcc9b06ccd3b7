/**
 * Work by key, one run at a time: a caller that arrives while the key's work runs shares its
 * outcome instead of starting it again (`first` tells the one that started it). Nothing is
 * kept once it settles: the next caller starts afresh.
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): { outcome: Promise<T>; first: boolean } {
    const running = this.running.get(key);
    if (running) return { outcome: running, first: false };
    const outcome = work().finally(() => this.running.delete(key));
    this.running.set(key, outcome);
    return { outcome, first: true };
  }
}
