// What bench/icount.js and bench/read-cost.js --icount share: how a node process is started under
// valgrind's callgrind with counting off (switched on later with callgrind_control), and how the
// instruction total is read back from callgrind's output file.
import { readFileSync } from 'node:fs';

/** valgrind's arguments before the program: callgrind, counting off until `callgrind_control -i on`. */
export function callgrindArgs(outFile) {
  // --smc-check: V8 writes JIT code into anonymous memory, which valgrind must re-translate.
  return [
    '--tool=callgrind',
    '--instr-atstart=no',
    '--smc-check=all-non-file',
    `--callgrind-out-file=${outFile}`,
  ];
}

/** The total of the first event (Ir: instructions) in a callgrind output file. */
export function totalInstructions(file) {
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('totals:'));
  if (line === undefined) throw new Error(`no totals in ${file}`);
  return Number(line.split(/\s+/)[1]);
}
