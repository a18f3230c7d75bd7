#!/usr/bin/env node
// The visid command: runs the compiled CLI (built by `npm ci`/`npm run build`).
import { main } from '../dist/src/cli/main.js';
main(process.argv).catch((err) => {
  process.stderr.write(`visid: ${err && err.message ? err.message : String(err)}\n`);
  process.exitCode = process.exitCode || 1;
});
