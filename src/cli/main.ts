#!/usr/bin/env node
/**
 * The `tsuring` executable (package.json `bin`, compiled to `dist/src/cli/main.js`).
 * Everything it does is in `cli.ts`.
 *
 * @module
 */
import { run } from './cli.js';

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tsuring: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
