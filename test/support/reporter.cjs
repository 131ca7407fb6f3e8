'use strict';
// Mocha's spec output, then one plain line CI reads: `tests: N passed, N failed`. Tests that
// skipped themselves (a tool or ../shared missing) are listed on the line before, so a skip is seen.
const Mocha = require('mocha');
const { EVENT_RUN_END, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const skipped = [];
    runner.on(EVENT_TEST_PENDING, (test) => skipped.push(test.fullTitle()));
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats ?? { passes: 0, failures: 0 };
      if (skipped.length > 0) process.stdout.write(`skipped: ${skipped.length} (${skipped.join('; ')})\n`);
      process.stdout.write(`tests: ${s.passes} passed, ${s.failures} failed\n`);
    });
  }
}
module.exports = SummaryReporter;
