/** A small LRU of thumbnails keyed by file identity and size. */
export class ThumbCache {
  readonly #map = new Map<string, Buffer>();
  #bytes = 0;
  constructor(readonly maxBytes: number) {}
  get(key: string): Buffer | undefined {
    const v = this.#map.get(key);
    if (v) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }
  set(key: string, v: Buffer): void {
    if (v.length > this.maxBytes / 4) return;
    this.#map.set(key, v);
    this.#bytes += v.length;
    for (const [k, old] of this.#map) {
      if (this.#bytes <= this.maxBytes) break;
      this.#map.delete(k);
      this.#bytes -= old.length;
    }
  }
}

