// The sandbox's JavaScript test harness: `node gi_harness.js program.js <total>` compiles
// the program (the solution, then the tests with each assertion call wrapped in
// __gi.check: genetic_instruct/sandbox/toolchains/javascript.py) and runs it. It counts
// each assertion site the way the Python harness counts a top-level assert: a failing one
// is reported and the tests go on.
//
// Everything it uses is taken before the solution runs, so a solution that replaces
// fs.writeSync or process.on cannot reach the records channel or forge a pass.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');
const writeSync = fs.writeSync;
const RESULTS = 3;
const DETAIL = 300;
const on = process.on.bind(process);
const exit = process.exit.bind(process);
let nonce = '';
let state = new Uint8Array(0); // per site: 1 reported passing, 2 failing

function emit(kind, index, text) {
  const detail = String(text).slice(0, DETAIL).replace(/[\r\n]/g, ' ');
  try {
    writeSync(RESULTS, `${nonce} ${kind} ${index} ${detail}\n`);
  } catch (gone) {
    exit(3); // the program closed our channel
  }
}

function describe(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `thrown ${String(error)}`;
}

function mark(index, seen) {
  if (index < 0 || index >= state.length || (state[index] & seen) !== 0) return false;
  state[index] |= seen;
  return true;
}

function start(total) {
  try {
    nonce = fs.readFileSync('.gi-nonce', 'ascii').trim();
    fs.unlinkSync('.gi-nonce');
  } catch (missing) {
    nonce = '';
  }
  state = new Uint8Array(total);
  emit('total', total, '');
  on('uncaughtException', (error) => {
    const memory = error instanceof RangeError && /memory|allocation/i.test(error.message);
    emit(memory ? 'memory' : 'error', 0, `the tests raised ${describe(error)}`);
    exit(1);
  });
  // The event loop drained on its own: every test ran, timers and promises included.
  process.once('beforeExit', () => emit('done', total, ''));
}

function check(index, line, text, assertion) {
  let failure = null;
  try {
    const value = assertion();
    if (value === false) failure = 'it was false';
  } catch (error) {
    failure = describe(error);
  }
  if (failure === null) {
    if (mark(index, 1)) emit('pass', index, '');
  } else if (mark(index, 2)) {
    emit('fail', index, `line ${line}: ${text} (${failure})`);
  }
}

// console.assert only prints; in the tests it is a check like any other.
function consoleAssert(condition) {
  return Boolean(condition);
}

const gi = Object.freeze({ check, consoleAssert });

// The program as node would run it as a module, with `__gi` a constant of its scope (a
// parameter could be reassigned by the solution; a constant cannot).
function main() {
  const file = path.resolve(process.argv[2]);
  start(Number(process.argv[3]));
  const source = fs.readFileSync(file, 'utf8');
  const wrapped =
    '(function (exports, require, module, __filename, __dirname, __giHarness) { ' +
    'const __gi = __giHarness; ' + source + '\n})';
  let compiled;
  try {
    compiled = new vm.Script(wrapped, { filename: file });
  } catch (error) {
    emit('compile', 0, `the program does not compile: ${describe(error)}`);
    exit(1);
  }
  const program = new Module(file, null);
  program.filename = file;
  program.paths = Module._nodeModulePaths(path.dirname(file));
  const run = compiled.runInThisContext();
  run.call(program.exports, program.exports, Module.createRequire(file), program, file,
           path.dirname(file), gi);
}

main();
