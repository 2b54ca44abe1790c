import { describe, expect, it } from 'vitest';
import { createBatcher } from '../../src/lib/batcher.js';

describe('createBatcher', () => {
  it('hands the items of one event-loop turn to one flush and settles every caller with it', async () => {
    const flushes: number[][] = [];
    const batcher = createBatcher<number>(async (items) => {
      flushes.push(items);
    });
    await Promise.all([batcher.add([1, 2]), batcher.add([3]), batcher.add([])]);
    await batcher.add([4]);
    expect(flushes).toEqual([[1, 2, 3], [4]]);
  });

  it('rejects every caller of a failed flush, and the next batch starts afresh', async () => {
    let fail = true;
    const batcher = createBatcher<string>(async () => {
      if (fail) throw new Error('redis down');
    });
    const results = await Promise.allSettled([batcher.add(['a']), batcher.add(['b'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(batcher.add(['c'])).resolves.toBeUndefined();
  });

  it('with enabled: false, flushes every add on its own', async () => {
    const flushes: number[][] = [];
    const batcher = createBatcher<number>(async (items) => {
      flushes.push(items);
    }, { enabled: false });
    await Promise.all([batcher.add([1, 2]), batcher.add([3]), batcher.add([])]);
    expect(flushes).toEqual([[1, 2], [3]]);
  });

  it('flushes at once when a batch reaches maxItems', async () => {
    const flushes: number[][] = [];
    const batcher = createBatcher<number>(async (items) => {
      flushes.push(items);
    }, { maxItems: 3 });
    const first = batcher.add([1, 2, 3]);
    expect(flushes).toEqual([[1, 2, 3]]);
    await Promise.all([first, batcher.add([4])]);
    expect(flushes).toEqual([[1, 2, 3], [4]]);
  });
});
