// Prints .ci/run's closing line: the tests of every vitest run CI made, summed from their JSON
// reports, plus one failure per CI step that failed outside vitest (their count in the environment
// as FAILED_STEPS), so the line never says "0 failed" on a red run. Arguments: `report=status`,
// the report's path and its vitest run's exit status. A run that exited non-zero without a failing
// test in its report (coverage under its threshold, a crash before the report was written) counts
// as one failure; so does a file that failed without a failing test (an error in a beforeAll, an
// import that throws), because vitest reports that file's tests as skipped.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = Number(process.env.FAILED_STEPS ?? 0);
let skipped = 0;
for (const arg of process.argv.slice(2)) {
  const at = arg.lastIndexOf('=');
  const [file, status] = [arg.slice(0, at), Number(arg.slice(at + 1))];
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    report = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, testResults: [] };
  }
  const before = failed;
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  for (const suite of report.testResults) {
    if (suite.status === 'failed' && !suite.assertionResults.some((t) => t.status === 'failed')) {
      console.error(`${suite.name}: failed outside its tests, counted as 1 failure`);
      failed++;
    }
  }
  if (status !== 0 && failed === before) {
    console.error(`${file}: its run exited ${status} with no failing test, counted as 1 failure`);
    failed++;
  }
}
// The skipped count goes on the line before: the closing line itself is exactly `N passed, N failed`.
console.log(`tests skipped: ${skipped}`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
