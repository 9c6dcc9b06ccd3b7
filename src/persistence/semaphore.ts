/** Limits how many callers hold a slot at once; waiters are served in arrival order. */
export class Semaphore {
  private held = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly slots: number) {}

  get waiting(): number {
    return this.waiters.length;
  }

  acquire(): Promise<void> {
    if (this.held < this.slots) {
      this.held++;
      return Promise.resolve();
    }
    // The releasing caller hands its slot straight to the next waiter (see release).
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.held--;
  }
}
