#!/usr/bin/env node
// gren-registry: the command line client of the Gren package registry. Run with --help.
import { runCli } from './client/main.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  self: [process.execPath, import.meta.filename],
});
