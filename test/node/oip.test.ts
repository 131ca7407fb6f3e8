import assert from 'node:assert/strict';
import { checkRequestedOutputs, parseInferRequest, selectOutputs } from '../../src/node/oip.ts';

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

    it('refuses an input name that is empty, not a string, or given twice, naming the input', () => {
      const x = { shape: [1], datatype: 'FP32', data: [1] };
      refused({ inputs: [{ ...x, name: '' }] }, /^inputs\[0\]\.name: empty \(name the input tensor\)$/);
      refused({ inputs: [{ ...x, name: 3 }] }, /^inputs\[0\]\.name: expected a string, got 3$/);
      refused({ inputs: [x] }, /^inputs\[0\]\.name: missing$/);
      refused({ inputs: [{ ...x, name: 'a' }, { ...x, name: 'b' }, { ...x, name: 'a' }] }, /^inputs\[2\]\.name: "a" is already the name of inputs\[0\]$/);
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

    it('refuses a shape of more than 64 dimensions (walking 20,000 of them overflowed the stack: a 500)', () => {
      const dims = new Array<number>(20_000).fill(1);
      let deep: unknown = 1;
      for (let i = 0; i < dims.length; i++) deep = [deep];
      refused(tensor(dims, deep as unknown[]), /^inputs\[0\]\.shape: 20000 dimensions; at most 64$/);
      assert.equal(parseInferRequest(tensor(new Array<number>(64).fill(1), [1])).inputs[0]!.data.length, 1);
    });
  });
});

describe('OIP v2 requested outputs', () => {
  const body = (outputs: unknown) => ({ parameters: { size: 1 }, outputs });
  const parse = (outputs: unknown) => parseInferRequest(body(outputs), false);
  const fails = (outputs: unknown, message: RegExp): void => assert.throws(() => parse(outputs), (e: Error) => (assert.match(e.message, message), true));
  const answer = { model_name: 'm', outputs: [{ name: 'a', datatype: 'FP32', shape: [1], data: [1] }, { name: 'b', datatype: 'FP32', shape: [1], data: [2] }] };

  it('reads outputs as a list of {name, parameters?}; absent or empty means all', () => {
    assert.deepEqual(parse([{ name: 'b' }, { name: 'a', parameters: { binary_data: true } }]).outputs, [{ name: 'b' }, { name: 'a', parameters: { binary_data: true } }]);
    assert.equal(parse(undefined).outputs, undefined);
    assert.equal(parse([]).outputs, undefined);
    assert.deepEqual(parseInferRequest({ ...tensor([1], [1]), outputs: [{ name: 'a' }] }).outputs, [{ name: 'a' }]);
  });

  it('refuses outputs of the wrong shape with 400 naming the field', () => {
    fails(5, /^outputs: expected a list of requested outputs \(\[\{"name": \.\.\.\}\]\), got 5$/);
    fails({ name: 'a' }, /^outputs: expected a list/);
    fails(['a'], /^outputs\[0\]: expected an object \{"name": \.\.\.\}, got "a"$/);
    fails([{ name: 'a' }, {}], /^outputs\[1\]\.name: missing$/);
    fails([{ name: 3 }], /^outputs\[0\]\.name: expected a string, got 3$/);
    fails([{ name: 'a' }, { name: 'a' }], /^outputs\[1\]\.name: "a" is already requested by outputs\[0\]$/);
    fails([{ name: 'a', parameters: 1 }], /^outputs\[0\]\.parameters: expected an object$/);
    fails([{ name: 'a', parameters: { classification: 3 } }], /^outputs\[0\]\.parameters\.classification: the classification extension is not supported/);
  });

  it('checks the names against the node\'s outputs and answers only those asked, in the order asked', () => {
    assert.throws(() => checkRequestedOutputs(parse([{ name: 'a' }, { name: 'nope' }]), 'm', ['a', 'b']), /^MixscaleError: outputs\[1\]\.name: "nope" is not an output of m \(its outputs: a, b\)$/);
    checkRequestedOutputs(parse([{ name: 'b' }]), 'm', ['a', 'b']);
    assert.deepEqual(selectOutputs(answer, parse([{ name: 'b' }, { name: 'a' }])).outputs.map((o) => o.name), ['b', 'a']);
    assert.deepEqual(selectOutputs(answer, parse([{ name: 'b' }])).outputs.map((o) => o.name), ['b']);
    assert.equal(selectOutputs(answer, parse(undefined)), answer);
  });
});
