// Times the same definitions on aws-local-stepfunctions (in-process, like `skein asl bench`).
// Usage: node compare.mjs ITERATIONS ROUNDS DEFINITION.asl.json...  (input: DEFINITION.input.json)
// Each round times ITERATIONS executions; the median round is reported, as `skein asl bench` does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

// aws-local-stepfunctions 3 uses Promise.withResolvers, which Node 20 lacks.
if (!Promise.withResolvers) {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}
// The tools are installed by scripts/setup.sh into $SKEIN_NODE_TOOLS (default .tools/node).
const toolsDir = process.env.SKEIN_NODE_TOOLS || new URL('../../.tools/node', import.meta.url).pathname;
const requireTool = createRequire(join(toolsDir, 'package.json'));
const { StateMachine } = requireTool('aws-local-stepfunctions');

const [iterations, roundCount, ...files] = process.argv.slice(2);
const count = Number(iterations);
const rounds = Number(roundCount);
const results = {};
for (const file of files) {
  const definition = JSON.parse(readFileSync(file, 'utf8'));
  const input = JSON.parse(readFileSync(file.replace(/\.asl\.json$/, '.input.json'), 'utf8'));
  const machine = new StateMachine(definition);
  const once = async () => machine.run(structuredClone(input)).result;
  for (let i = 0; i < Math.max(1, Math.floor(count / 10)); i++) await once();
  const roundsUs = [];
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < count; i++) await once();
    roundsUs.push(Number(process.hrtime.bigint() - started) / 1000 / count);
  }
  const median = [...roundsUs].sort((a, b) => a - b)[Math.floor(rounds / 2)];
  results[file] = { iterations: count, rounds_us: roundsUs, per_execution_us: median };
}
console.log(JSON.stringify(results));
