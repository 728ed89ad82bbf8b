// Runs JSONata's own test suite (shared/asl/tests/jsonata/suite-2.0.6.json) on npm jsonata
// 2.0.6, the version Step Functions implements, with the reference harness's rules (its
// timelimit/depth guard throws U1001), and prints the pass rate; cases using $eval or $random
// are counted apart, as in shared/asl/tests/jsonata_suite.rs, which runs the same cases on
// skein-asl. Exit 1 when the reference fails a case: then the bundle or this harness is wrong,
// and skein-asl's rate means nothing. Usage: node jsonata-suite.mjs SUITE.json [--json]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
// The tools are installed by scripts/setup.sh into $SKEIN_NODE_TOOLS (default .tools/node).
const toolsDir = process.env.SKEIN_NODE_TOOLS || new URL('../../.tools/node', import.meta.url).pathname;
const jsonata = createRequire(join(toolsDir, 'package.json'))('jsonata-2.0.6');
const suite = JSON.parse(readFileSync(process.argv[2], 'utf8'));

function timebox(expr, timeout, maxDepth) {
    let depth = 0;
    const started = Date.now();
    const check = () => {
        if (maxDepth > 0 && depth > maxDepth) throw { code: 'U1001', message: 'Stack overflow error' };
        if (Date.now() - started > timeout) throw { code: 'U1001', message: 'Expression evaluation timeout' };
    };
    expr.assign(Symbol.for('jsonata.__evaluate_entry'), (_expr, _input, env) => {
        if (env.isParallelCall) return;
        depth++;
        check();
    });
    expr.assign(Symbol.for('jsonata.__evaluate_exit'), (_expr, _input, env) => {
        if (env.isParallelCall) return;
        depth--;
        check();
    });
}

function sameItems(a, b) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    const left = [...b];
    return a.every((item) => {
        const at = left.findIndex((other) => isDeepStrictEqual(item, other));
        if (at < 0) return false;
        left.splice(at, 1);
        return true;
    });
}

let passed = 0;
let changed = 0;
const failures = [];
for (const c of suite.cases) {
    const name = `${c.group}/${c.case}`;
    if (c.expr.includes('$eval') || c.expr.includes('$random')) { changed++; continue; }
    const data = 'data' in c ? c.data : (c.dataset ? suite.datasets[c.dataset] : undefined);
    let outcome;
    try {
        const expr = jsonata(c.expr);
        if ('timelimit' in c && 'depth' in c) timebox(expr, c.timelimit, c.depth);
        let result = await expr.evaluate(data, c.bindings ?? {});
        // As the reference harness sees it: plain JSON (sequences become arrays).
        result = result === undefined ? undefined : JSON.parse(JSON.stringify(result) ?? 'null');
        outcome = { result };
    } catch (error) {
        outcome = { code: error.code ?? String(error) };
    }
    let ok;
    if (c.code) ok = outcome.code === c.code;
    else if (outcome.code) ok = false;
    else if (c.undefinedResult || !('result' in c)) ok = outcome.result === undefined;
    else ok = isDeepStrictEqual(outcome.result, c.result) || (c.unordered && sameItems(outcome.result, c.result));
    if (ok) passed++;
    else failures.push({ case: name, expr: c.expr, got: outcome, expected: c.code ?? c.result });
}
const counted = suite.cases.length - changed;
if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ passed, counted, changed, failures }));
} else {
    console.log(`npm jsonata 2.0.6: ${passed} of ${counted} cases pass (${(100 * passed / counted).toFixed(1)}%); ${changed} use $eval or $random, which Step Functions replaces`);
    for (const f of failures) console.error(`  failed ${f.case}: ${f.expr} -- got ${JSON.stringify(f.got)}, expected ${JSON.stringify(f.expected)}`);
}
if (failures.length > 0) process.exitCode = 1;
