// Lets concurrent requests share a database read without ever getting an answer older
// than themselves. A caller joins only a read that starts after it asked: while one read
// is running, everyone who arrives waits for the next one, which starts when it ends.
// Under load that is one query per round trip however many requests come, and every
// answer still reflects everything committed before its request arrived.
export class FreshReads<T> {
  private readonly running = new Map<string, Promise<T>>();
  private readonly queued = new Map<string, Promise<T>>();

  read(key: string, query: () => Promise<T>): Promise<T> {
    const running = this.running.get(key);
    if (!running) return this.start(key, query);
    let queued = this.queued.get(key);
    if (!queued) {
      queued = running
        .then(
          () => {},
          () => {},
        )
        .then(() => {
          this.queued.delete(key);
          return this.start(key, query);
        });
      this.queued.set(key, queued);
    }
    return queued;
  }

  private start(key: string, query: () => Promise<T>): Promise<T> {
    const promise = query().finally(() => this.running.delete(key));
    this.running.set(key, promise);
    return promise;
  }
}
