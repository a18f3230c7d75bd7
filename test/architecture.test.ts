// The one-way arrows of ARCHITECTURE.md, enforced: dependency-cruiser over src/ with .dependency-cruiser.cjs finds
// no violation; and the same rules do flag a wrong-way import, a circle, a job importing another job and an import
// that does not resolve in a small tree written for the purpose (so the check can fail).
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const DEPCRUISE = path.join(ROOT, 'node_modules', '.bin', 'depcruise');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

async function cruise(cwd: string, config: string): Promise<Violation[]> {
  // depcruise exits non-zero when it finds violations; the JSON report is on stdout either way.
  const out = await run(DEPCRUISE, ['src', '--config', config, '--output-type', 'json'], { cwd, maxBuffer: 64 * 1024 * 1024 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  const report = JSON.parse(out.stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  assert.ok(report.summary.totalCruised > 0, 'dependency-cruiser read no module');
  return report.summary.violations;
}

test('src/ keeps the arrows of ARCHITECTURE.md: no wrong-way import, no circle, no cross-job import, everything resolves', async () => {
  const violations = await cruise(ROOT, path.join(ROOT, '.dependency-cruiser.cjs'));
  assert.deepEqual(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`), []);
});

test('the architecture rules catch a wrong-way import, a type-only circle, a job importing a job and a dangling import', async (t) => {
  const dir = tempDir(t);
  const files: Record<string, string> = {
    // util importing train: up the pipeline.
    'src/util/helper.ts': "import { step } from '../train/step.js';\nexport const helper = () => step();\n",
    'src/train/step.ts': 'export const step = () => 1;\n',
    // A circle through a type-only import.
    'src/train/trainer.ts': "import { report } from './report.js';\nexport interface Rec { epoch: number }\nexport const t = () => report([]);\n",
    'src/train/report.ts': "import type { Rec } from './trainer.js';\nexport const report = (r: Rec[]) => r.length;\n",
    // One job using another.
    'src/jobs/geo/recipe.ts': "import { faces } from '../faces/faces.js';\nexport const geo = () => faces();\n",
    'src/jobs/faces/faces.ts': "import { step } from '../../train/step.js';\nexport const faces = () => step();\n",
    // An import left behind by a move.
    'src/search/exact.ts': "import { gone } from '../index/moved-away.js';\nexport const exact = () => gone;\n",
    // The package entry re-exports the library; a module of src/ importing it instead of the module it needs.
    'src/api.ts': "export { step } from './train/step.js';\n",
    'src/eval/metric.ts': "import { step } from '../api.js';\nexport const metric = () => step();\n",
  };
  for (const [file, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), text);
  }
  await fs.copyFile(path.join(ROOT, '.dependency-cruiser.cjs'), path.join(dir, '.dependency-cruiser.cjs'));
  await fs.writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src/**/*.ts'] }));
  const found = new Set((await cruise(dir, '.dependency-cruiser.cjs')).map((v) => `${v.rule.name}: ${v.from} → ${v.to}`));
  const expected = [
    'util-imports-downstream-only: src/util/helper.ts → src/train/step.ts',
    'jobs-use-the-engine-not-each-other: src/jobs/geo/recipe.ts → src/jobs/faces/faces.ts',
    'not-to-unresolvable: src/search/exact.ts → ../index/moved-away.js',
    'nothing-imports-the-api-barrel: src/eval/metric.ts → src/api.ts',
  ];
  for (const e of expected) assert.ok(found.has(e), `expected "${e}" among:\n${[...found].join('\n')}`);
  // A circle is reported from whichever of its modules the cruiser reaches first.
  assert.ok(found.has('no-circular: src/train/trainer.ts → src/train/report.ts') || found.has('no-circular: src/train/report.ts → src/train/trainer.ts'), `no circle found among:\n${[...found].join('\n')}`);
  // The allowed arrows stay allowed: a job importing the engine, the trainer importing its own report.
  assert.ok(![...found].some((f) => f.includes('src/jobs/faces/faces.ts → src/train/step.ts')));
});
