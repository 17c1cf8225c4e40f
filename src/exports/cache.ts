// Built key files by content: a window plus the versions of its hours names exactly one
// key set, so a hit can be served without reading a key. Least recently used entries go
// first once the byte budget is spent. Concurrent misses for one entry share one build.
import { createHash } from 'node:crypto';

export interface CachedExport {
  zip: Buffer;
  /** Strong ETag, quotes included. */
  etag: string;
  keyCount: number;
}

export function cachedExport(zip: Buffer, keyCount: number): CachedExport {
  return { zip, keyCount, etag: `"${createHash('sha256').update(zip).digest('base64url')}"` };
}

export class ExportCache {
  private readonly entries = new Map<string, CachedExport>();
  private readonly building = new Map<string, Promise<CachedExport>>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  static key(parts: readonly (string | number)[]): string {
    return parts.join('|');
  }

  get(key: string): CachedExport | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  set(key: string, entry: CachedExport): void {
    if (this.entries.has(key)) return;
    this.entries.set(key, entry);
    this.bytes += entry.zip.length;
    for (const [oldest, old] of this.entries) {
      if (this.bytes <= this.maxBytes || oldest === key) break;
      this.entries.delete(oldest);
      this.bytes -= old.zip.length;
    }
  }

  /** The entry for `key`, building it once however many requests ask at the same time. */
  async getOrBuild(key: string, build: () => Promise<CachedExport>): Promise<CachedExport> {
    const hit = this.get(key);
    if (hit) return hit;
    let pending = this.building.get(key);
    if (!pending) {
      pending = build().finally(() => this.building.delete(key));
      this.building.set(key, pending);
    }
    return pending;
  }
}
