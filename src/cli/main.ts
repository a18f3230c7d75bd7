// The visid command line: composes the library's stages into index, search, eval, export and maintenance commands.
import { Command } from 'commander';
import { VisidError } from '../util/errors.js';

// Each command's module is loaded only when that command runs: `visid index` does not pay for TensorFlow.js, Fastify
// or BullMQ (together over a second of start-up). Each job owns its commands (src/jobs/<job>/command.ts); the CLI
// only registers them. The order here is the order of `visid --help`.
const COMMANDS: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./demo-command.js')).demoCommand(),
  index: async () => (await import('./index-command.js')).indexCommand(),
  search: async () => (await import('./search-command.js')).searchCommand(),
  eval: async () => (await import('./eval-command.js')).evalCommand().enablePositionalOptions().addCommand((await import('../jobs/copy-detection/command.js')).evalCopyCommand()),
  'copy-detect': async () => (await import('../jobs/copy-detection/command.js')).copyDetectCommand(),
  export: async () => (await import('./gallery-commands.js')).exportCommand(),
  import: async () => (await import('./gallery-commands.js')).importCommand(),
  info: async () => (await import('./gallery-commands.js')).infoCommand(),
  remove: async () => (await import('./gallery-commands.js')).removeCommand(),
  compact: async () => (await import('./gallery-commands.js')).compactCommand(),
  reindex: async () => (await import('./gallery-commands.js')).reindexCommand(),
  models: async () => (await import('./models-command.js')).modelsCommand(),
  face: async () => (await import('../jobs/faces/command.js')).faceCommand(),
  serve: async () => (await import('./serve-command.js')).serveCommand(),
  worker: async () => (await import('./worker-command.js')).workerCommand(),
  train: async () => (await import('./train-command.js')).trainCommand(),
  augment: async () => (await import('./augment-command.js')).augmentCommand(),
  recipe: recipeCommand,
  video: async () => (await import('../jobs/video/command.js')).videoCommand(),
};

/** `visid recipe <job>`: the end-to-end jobs of the seeds that train, evaluate, predict and report in one command. */
async function recipeCommand(): Promise<Command> {
  const [{ hotelIdCommand }, { geoCommand }] = await Promise.all([import('../jobs/hotel-id/command.js'), import('../jobs/geo/command.js')]);
  return new Command('recipe').description('end-to-end recipes of the seed papers').addCommand(hotelIdCommand()).addCommand(geoCommand());
}

/**
 * The program with every command, or with only `only` (the command about to run; its parse, help and errors are the
 * same either way, but the other commands' modules are not loaded). Unknown names and `visid --help` get them all.
 */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('visid')
    .description('visual identification by deep metric learning: embed images with ONNX models, index, search, evaluate')
    .version('0.1.0')
    .showHelpAfterError()
    // Options belong to the command they follow: `visid eval copy --json` is eval copy's --json, not eval's.
    .enablePositionalOptions()
    .exitOverride();
  const names = only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : Object.keys(COMMANDS);
  for (const cmd of await Promise.all(names.map((name) => COMMANDS[name]!()))) {
    program.addCommand(cmd.exitOverride().showHelpAfterError());
  }
  return program;
}

/** The command `visid …` names: its first word, when that is not an option (`visid --help`, `visid -V`). */
function commandName(argv: string[]): string | undefined {
  const first = argv[2];
  return first === undefined || first.startsWith('-') ? undefined : first;
}

export async function main(argv: string[]): Promise<void> {
  // `visid ... | head` closes the pipe early: stop quietly instead of crashing on EPIPE.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  try {
    await (await buildProgram(commandName(argv))).parseAsync(argv);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // commander has already printed help, the version or its error message.
      process.exitCode = e.exitCode ?? 1;
      return;
    }
    if (err instanceof VisidError) {
      process.stderr.write(`visid: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}
