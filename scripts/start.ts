import { ConfigError, loadConfig } from '../gateway/config.ts';
import { createLogger, describeError } from '../gateway/log.ts';
import { openRegistry } from '../gateway/registry.ts';
import { batchedWriter } from '../gateway/batched-writer.ts';

// Log lines go to stdout once per turn of the event loop, and whatever is pending at exit.
const stdout = batchedWriter((text) => process.stdout.write(text));
process.on('exit', () => stdout.flush());
const log = createLogger(stdout.write);
let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`Configuration error: ${err.message}\n`);
  process.exit(78);
}

let registry;
try {
  registry = await openRegistry(config, { log });
  await registry.listen();
} catch (err) {
  log.error('start_failed', describeError(err));
  process.stderr.write(`The registry could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    registry.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('stop_failed', describeError(err));
        process.exit(1);
      },
    );
  });
}
