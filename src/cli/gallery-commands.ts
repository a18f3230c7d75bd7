// `visid export`, `visid info`, `visid remove`, `visid compact`: inspect and maintain a gallery.
import { Command } from 'commander';
import { Gallery } from '../index/gallery.js';

export function exportCommand(): Command {
  return new Command('export')
    .description('write the gallery descriptors as a NumPy .npy file (count × dim float32), and its items as JSONL')
    .argument('<gallery>', 'gallery folder')
    .requiredOption('--npy <file>', 'output .npy file')
    .option('--meta <file>', 'also write the items (id, label, ...) as JSONL, in row order')
    .action(async (dir: string, o: { npy: string; meta?: string }) => {
      const gallery = await Gallery.open(dir);
      await gallery.exportNpy(o.npy, o.meta);
      process.stdout.write(`wrote ${o.npy} (${gallery.count} × ${gallery.dim} float32)${o.meta ? ` and ${o.meta}` : ''}\n`);
    });
}

export function infoCommand(): Command {
  return new Command('info')
    .description('show a gallery: size, dimension, model, labels')
    .argument('<gallery>', 'gallery folder')
    .option('--json', 'print JSON')
    .action(async (dir: string, o: { json?: boolean }) => {
      const g = await Gallery.open(dir);
      const labels = new Set(g.items.map((it) => it.label).filter((l) => l !== undefined));
      const info = { dir: g.dir, count: g.count, dim: g.dim, labels: labels.size, model: { name: g.model.name, id: g.model.id, path: g.model.path }, dataRoot: g.dataRoot };
      if (o.json) process.stdout.write(JSON.stringify(info, null, 2) + '\n');
      else
        process.stdout.write(
          `gallery   ${info.dir}\nitems     ${info.count}\ndim       ${info.dim}\nlabels    ${info.labels}\nmodel     ${info.model.name ?? ''} ${info.model.id.slice(0, 16)}\n` +
            `data root ${info.dataRoot ?? '-'}\n`,
        );
    });
}

export function removeCommand(): Command {
  return new Command('remove')
    .description('remove items from a gallery by id (all or nothing)')
    .argument('<gallery>', 'gallery folder')
    .argument('<ids...>', 'item ids')
    .action(async (dir: string, ids: string[]) => {
      const g = await Gallery.open(dir);
      await g.remove(ids);
      process.stdout.write(`removed ${ids.length} items; ${g.count} remain\n`);
    });
}

export function compactCommand(): Command {
  return new Command('compact')
    .description('rewrite a gallery into one segment, dropping removed items from disk')
    .argument('<gallery>', 'gallery folder')
    .action(async (dir: string) => {
      const g = await Gallery.open(dir);
      await g.compact();
      process.stdout.write(`compacted ${g.dir}: ${g.count} items\n`);
    });
}
