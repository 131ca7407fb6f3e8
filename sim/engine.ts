import type { Ms } from '../src/core/types.ts';

/**
 * The simulator's event queue: a binary min-heap ordered by (time, seq) over parallel typed
 * arrays. An event is a kind (small integer) and one integer argument; the loop that pops it
 * dispatches on the kind, so the hot path allocates nothing and calls no closures. Events at
 * the same instant come out in the order they were pushed: runs are reproducible.
 */
export class EventHeap {
  private time: Float64Array;
  private seq: Float64Array;
  private kind: Uint8Array;
  private arg: Int32Array;
  private n = 0;
  private nextSeq = 0;
  /** The last popped event (read after pop(); valid until the next pop). */
  poppedTime: Ms = 0;
  poppedKind = 0;
  poppedArg = 0;

  constructor(initialCapacity = 1024) {
    this.time = new Float64Array(initialCapacity);
    this.seq = new Float64Array(initialCapacity);
    this.kind = new Uint8Array(initialCapacity);
    this.arg = new Int32Array(initialCapacity);
  }

  get size(): number {
    return this.n;
  }

  /** Time of the earliest event, or Infinity when empty. */
  peekTime(): Ms {
    return this.n > 0 ? this.time[0]! : Infinity;
  }

  push(t: Ms, kind: number, arg: number): void {
    if (this.n === this.time.length) this.grow();
    const s = this.nextSeq++;
    const time = this.time;
    const seq = this.seq;
    let i = this.n++;
    // Sift up: move parents down until the slot fits.
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = time[p]!;
      if (pt < t || (pt === t && seq[p]! < s)) break;
      this.move(p, i);
      i = p;
    }
    time[i] = t;
    seq[i] = s;
    this.kind[i] = kind;
    this.arg[i] = arg;
  }

  /** Removes the earliest event into poppedTime/Kind/Arg; false when empty. */
  pop(): boolean {
    if (this.n === 0) return false;
    this.poppedTime = this.time[0]!;
    this.poppedKind = this.kind[0]!;
    this.poppedArg = this.arg[0]!;
    const last = --this.n;
    if (last === 0) return true;
    const t = this.time[last]!;
    const s = this.seq[last]!;
    const k = this.kind[last]!;
    const a = this.arg[last]!;
    const time = this.time;
    const seq = this.seq;
    let i = 0;
    // Sift down the former last element from the root.
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      let c = l;
      if (r < last) {
        const lt = time[l]!;
        const rt = time[r]!;
        if (rt < lt || (rt === lt && seq[r]! < seq[l]!)) c = r;
      }
      const ct = time[c]!;
      if (t < ct || (t === ct && s < seq[c]!)) break;
      this.move(c, i);
      i = c;
    }
    time[i] = t;
    seq[i] = s;
    this.kind[i] = k;
    this.arg[i] = a;
    return true;
  }

  private move(from: number, to: number): void {
    this.time[to] = this.time[from]!;
    this.seq[to] = this.seq[from]!;
    this.kind[to] = this.kind[from]!;
    this.arg[to] = this.arg[from]!;
  }

  private grow(): void {
    const cap = this.time.length * 2;
    const time = new Float64Array(cap);
    time.set(this.time);
    const seq = new Float64Array(cap);
    seq.set(this.seq);
    const kind = new Uint8Array(cap);
    kind.set(this.kind);
    const arg = new Int32Array(cap);
    arg.set(this.arg);
    this.time = time;
    this.seq = seq;
    this.kind = kind;
    this.arg = arg;
  }
}
