// Preloaded into a benchmarked child process (node --import): prints its peak resident memory on exit.
process.on('exit', () => {
  process.stderr.write(`VISID_BENCH_MAXRSS_KB=${process.resourceUsage().maxRSS}\n`);
});
