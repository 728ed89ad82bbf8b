// Does npm asl-validator accept every definition skein-asl accepts (the conformance cases),
// and how many of skein-asl's invalid cases does it also refuse? Exit 1 on a disagreement
// about a valid definition.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
// The tools are installed by scripts/setup.sh into $SKEIN_NODE_TOOLS (default .tools/node).
const toolsDir = process.env.SKEIN_NODE_TOOLS || new URL('../../.tools/node', import.meta.url).pathname;
const requireTool = createRequire(join(toolsDir, 'package.json'));
const validator = requireTool('asl-validator');

const tests = process.argv[2];
const cases = (dir) => readdirSync(join(tests, dir)).filter((f) => f.endsWith('.json'))
  .flatMap((f) => JSON.parse(readFileSync(join(tests, dir, f), 'utf8')).cases.map((c) => ({ file: f, ...c })));

const valid = cases('conformance');
const disputed = valid.filter((c) => c.asl_validator_disagrees);
for (const c of disputed) {
  if (validator(structuredClone(c.definition)).isValid) {
    console.error(`${c.file} / ${c.name} is marked asl_validator_disagrees, but asl-validator accepts it: remove the mark`);
    process.exitCode = 1;
  } else {
    console.log(`known difference: ${c.file} / ${c.name}: ${c.asl_validator_disagrees}`);
  }
}
const refused = valid.filter((c) => !c.asl_validator_disagrees && !validator(structuredClone(c.definition)).isValid);
for (const c of refused) {
  const { errors } = validator(structuredClone(c.definition));
  console.error(`asl-validator refuses a definition skein-asl runs: ${c.file} / ${c.name}\n  ${JSON.stringify(errors).slice(0, 400)}`);
}
const invalid = cases('validation').filter((c) => c.definition);
const alsoRefused = invalid.filter((c) => !validator(structuredClone(c.definition)).isValid).length;
console.log(`asl-validator accepts ${valid.length - refused.length - disputed.length} of the ${valid.length - disputed.length} undisputed definitions skein-asl accepts and runs`);
console.log(`asl-validator also refuses ${alsoRefused} of skein-asl's ${invalid.length} invalid definitions (skein-asl checks more: reachability, intrinsics, choice operands, ...)`);
if (refused.length > 0) process.exitCode = 1;
