// Validates every *.json file in a directory with npm asl-validator; exit 1 if any is
// refused. scripts/test.sh runs it on the ASL `skein compile` makes of every example
// and fixture workflow.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
const toolsDir = process.env.SKEIN_NODE_TOOLS || new URL('../../.tools/node', import.meta.url).pathname;
const validator = createRequire(join(toolsDir, 'package.json'))('asl-validator');

const dir = process.argv[2];
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
let refused = 0;
for (const file of files) {
  const { isValid, errors } = validator(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  if (!isValid) {
    refused += 1;
    console.error(`asl-validator refuses the ASL compiled from ${file}:\n  ${JSON.stringify(errors).slice(0, 600)}`);
  }
}
console.log(`asl-validator accepts ${files.length - refused} of ${files.length} compiled workflows`);
if (files.length === 0 || refused > 0) process.exitCode = 1;
