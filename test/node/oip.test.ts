import assert from 'node:assert/strict';
import { parseInferRequest } from '../../src/node/oip.ts';

const tensor = (shape: number[], data: unknown[], datatype = 'FP32') => ({ inputs: [{ name: 'x', shape, datatype, data }] });
const refused = (body: unknown, message: RegExp): void => assert.throws(() => parseInferRequest(body), (e: Error) => (assert.match(e.message, message), true));

describe('OIP v2 request parsing', () => {
  describe('tensor data', () => {
    it('takes data flat or nested as the shape is, in row-major order', () => {
      assert.deepEqual(parseInferRequest(tensor([2, 3], [1, 2, 3, 4, 5, 6])).inputs[0]!.data, [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(parseInferRequest(tensor([2, 3], [[1, 2, 3], [4, 5, 6]])).inputs[0]!.data, [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(parseInferRequest(tensor([2, 0], [[], []])).inputs[0]!.data, []);
      assert.deepEqual(parseInferRequest(tensor([], [7])).inputs[0]!.data, [7]);
    });

    it('flattens nesting of any depth: a correctly nested 10- and 12-dimensional tensor', () => {
      for (const dims of [10, 12]) {
        let data: unknown = 5;
        for (let i = 0; i < dims; i++) data = [data];
        const shape = new Array<number>(dims).fill(1);
        shape[0] = 2;
        const two = [(data as unknown[])[0], (data as unknown[])[0]];
        assert.deepEqual(parseInferRequest(tensor(shape, two)).inputs[0]!.data, [5, 5], `${dims} dims`);
      }
    });

    it('refuses nested data that does not match the shape at every level, naming the list at fault', () => {
      refused(tensor([2, 2], [[1], [2, 3, 4]]), /^inputs\[0\]\.data\[0\]: has 1 entry, dimension 1 of shape \[2,2\] is 2$/);
      refused(tensor([2, 2], [[1, 2], [2, 3, 4]]), /^inputs\[0\]\.data\[1\]: has 3 entries, dimension 1 of shape \[2,2\] is 2$/);
      refused(tensor([2, 2], [[1, 2, 3, 4]]), /^inputs\[0\]\.data: has 1 entry, dimension 0 of shape \[2,2\] is 2$/);
      refused(tensor([2, 2], [[1, 2], 3]), /^inputs\[0\]\.data\[1\]: expected a list of 2 \(dimension 1 of shape \[2,2\]\), got 3$/);
      refused(tensor([2], [[1], [2]]), /^inputs\[0\]\.data\[0\]: expected a value, got a list \(shape \[2\] has 1 dimension\)$/);
      refused(tensor([1, 1], [[[1]]]), /^inputs\[0\]\.data\[0\]\[0\]: expected a value, got a list \(shape \[1,1\] has 2 dimensions\)$/);
      refused(tensor([], [[1]]), /^inputs\[0\]\.data: expected 1 value for shape \[\] \(a scalar\), got a nested list$/);
      refused(tensor([2, 2], [1, 2, 3]), /^inputs\[0\]\.data: has 3 values, shape \[2,2\] needs 4$/);
    });

    it('names a bad value of nested data by its place in the nesting', () => {
      refused(tensor([2, 2], [[1, 2], [3, 'x']]), /^inputs\[0\]\.data\[1\]\[1\]: expected a number for FP32, got "x"$/);
      refused(tensor([2, 2], [1, 2, 3, 'x']), /^inputs\[0\]\.data\[3\]: expected a number for FP32, got "x"$/);
      refused(tensor([1, 2], [[300, 1]], 'UINT8'), /^inputs\[0\]\.data\[0\]\[0\]: expected an integer from 0 to 255 for UINT8, got 300$/);
    });

    it('survives JSON nested far deeper than its shape (no recursion past the shape)', () => {
      let deep: unknown = 1;
      for (let i = 0; i < 100_000; i++) deep = [deep];
      refused(tensor([1], [deep]), /^inputs\[0\]\.data\[0\]: expected a value, got a list/);
    });
  });
});
