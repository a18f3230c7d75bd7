// The visid command line: composes the library's stages into index, search, eval, export and maintenance commands.
import { Command } from 'commander';
import { VisidError } from '../util/errors.js';
import { indexCommand } from './index-command.js';
import { searchCommand } from './search-command.js';
import { workerCommand } from './worker-command.js';
import { evalCommand } from './eval-command.js';
import { compactCommand, exportCommand, importCommand, infoCommand, reindexCommand, removeCommand } from './gallery-commands.js';
import { demoCommand } from './demo-command.js';
import { serveCommand } from './serve-command.js';
import { trainCommand } from './train-command.js';
import { augmentCommand } from './augment-command.js';
import { modelsCommand } from './models-command.js';
// Each job owns its commands (src/jobs/<job>/command.ts); the CLI only registers them.
import { copyDetectCommand, evalCopyCommand } from '../jobs/copy-detection/command.js';
import { faceCommand } from '../jobs/faces/command.js';
import { geoCommand } from '../jobs/geo/command.js';
import { hotelIdCommand } from '../jobs/hotel-id/command.js';
import { videoCommand } from '../jobs/video/command.js';

/** `visid recipe <job>`: the end-to-end jobs of the seeds that train, evaluate, predict and report in one command. */
function recipeCommand(): Command {
  return new Command('recipe').description('end-to-end recipes of the seed papers').addCommand(hotelIdCommand()).addCommand(geoCommand());
}

export function buildProgram(): Command {
  const program = new Command('visid')
    .description('visual identification by deep metric learning: embed images with ONNX models, index, search, evaluate')
    .version('0.1.0')
    .showHelpAfterError()
    // Options belong to the command they follow: `visid eval copy --json` is eval copy's --json, not eval's.
    .enablePositionalOptions()
    .exitOverride();
  for (const cmd of [demoCommand(), indexCommand(), searchCommand(), evalCommand().enablePositionalOptions().addCommand(evalCopyCommand()), copyDetectCommand(), exportCommand(), importCommand(), infoCommand(), removeCommand(), compactCommand(), reindexCommand(), modelsCommand(), faceCommand(), serveCommand(), workerCommand(), trainCommand(), augmentCommand(), recipeCommand(), videoCommand()]) {
    program.addCommand(cmd.exitOverride().showHelpAfterError());
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // `visid ... | head` closes the pipe early: stop quietly instead of crashing on EPIPE.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  try {
    await buildProgram().parseAsync(argv);
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
