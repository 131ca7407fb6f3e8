import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { EventHeap } from '../../sim/engine.ts';

describe('event heap', () => {
  it('pops events in time order, whatever order they were pushed in', () => {
    const heap = new EventHeap(4);
    const rng = new Rng(3);
    const times: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const t = Math.floor(rng.next() * 1000);
      times.push(t);
      heap.push(t, 1, i);
    }
    const popped: number[] = [];
    while (heap.pop()) popped.push(heap.poppedTime);
    assert.deepEqual(popped, [...times].sort((a, b) => a - b));
  });

  it('pops events at the same instant in the order they were pushed (time, seq)', () => {
    const heap = new EventHeap(2);
    for (let i = 0; i < 100; i++) heap.push(i % 3 === 0 ? 5 : 7, 2, i);
    const fives: number[] = [];
    const sevens: number[] = [];
    while (heap.pop()) (heap.poppedTime === 5 ? fives : sevens).push(heap.poppedArg);
    assert.deepEqual(fives, [...fives].sort((a, b) => a - b));
    assert.deepEqual(sevens, [...sevens].sort((a, b) => a - b));
    assert.equal(fives.length + sevens.length, 100);
  });

  it('keeps kind and argument with their event and reports Infinity when empty', () => {
    const heap = new EventHeap();
    assert.equal(heap.peekTime(), Infinity);
    assert.equal(heap.pop(), false);
    heap.push(2, 9, -4);
    heap.push(1, 3, 77);
    assert.equal(heap.peekTime(), 1);
    heap.pop();
    assert.deepEqual([heap.poppedTime, heap.poppedKind, heap.poppedArg], [1, 3, 77]);
    heap.pop();
    assert.deepEqual([heap.poppedTime, heap.poppedKind, heap.poppedArg], [2, 9, -4]);
    assert.equal(heap.size, 0);
  });

  it('interleaves pushes and pops like a simulation does', () => {
    const heap = new EventHeap(1);
    const rng = new Rng(9);
    let now = 0;
    heap.push(0, 1, 0);
    let n = 0;
    while (heap.pop() && n < 20_000) {
      assert.ok(heap.poppedTime >= now, 'time never goes back');
      now = heap.poppedTime;
      n++;
      if (n < 10_000) {
        heap.push(now + rng.exponential(1), 1, n);
        if (n % 2 === 0) heap.push(now + rng.exponential(0.5), 2, n);
      }
    }
    assert.equal(heap.size, 0);
  });
});
