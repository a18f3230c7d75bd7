// `visid models`: the models visid knows by name — what they are, their size, descriptor, input, licence, source.
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_MODELS_DIR, userModelCacheDir } from '../models/default-files.js';
import { DEFAULT_INDEX_MODEL, MODELS } from '../models/registry.js';

export function modelsCommand(): Command {
  return new Command('models')
    .description(`list the models visid knows by name (use them as --model <name>; ${DEFAULT_INDEX_MODEL} is visid index's default); built ones are made on first use from npm packages, nothing is downloaded`)
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const rows = MODELS.map((m) => {
        const where = [path.join(PACKAGE_MODELS_DIR, `${m.file}.onnx`), path.join(userModelCacheDir(), `${m.file}.onnx`)].find((p) => existsSync(p));
        return { name: m.name, file: m.file, output: m.output, dim: m.dim, inputSize: m.inputSize, sizeMb: m.sizeMb, licence: m.licence, source: m.source, description: m.description, shipped: !m.build, path: where ?? null };
      });
      if (o.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      for (const r of rows) {
        process.stdout.write(
          `${r.name.padEnd(20)} ${r.output === 'pooled' ? `${r.dim}-d` : `${r.dim}-channel map`}, ${r.inputSize[0]}×${r.inputSize[1]} px, ${r.sizeMb} MB, ${r.licence}${r.name === DEFAULT_INDEX_MODEL ? '  [default for visid index]' : ''}\n` +
            `${''.padEnd(20)} ${r.description}\n${''.padEnd(20)} from ${r.source}; ${r.shipped ? 'shipped' : r.path ? `built: ${r.path}` : 'built on first use'}\n`,
        );
      }
    });
}
