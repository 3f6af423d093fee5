import { ConfigError } from '../gateway/config-readers.ts';
import { createLogger, describeError, type Logger } from '../gateway/log.ts';
import { batchedWriter } from '../gateway/batched-writer.ts';

/** What a server process runs: listens, and closes cleanly. */
type Server = { listen(): Promise<unknown>; close(): Promise<void> };

/**
 * The life of a server process (`npm start`, `npm run replica`): its configuration read from the
 * environment (an error naming the variable exits 78), the server opened and listening (a failure
 * exits 1), and `SIGTERM` or `SIGINT` closing it cleanly (exit 0). Log lines go to stdout once per
 * turn of the event loop, and whatever is pending at exit.
 */
export async function runServer<C>(what: string, load: (env: NodeJS.ProcessEnv) => C, open: (config: C, log: Logger) => Promise<Server>): Promise<void> {
  const stdout = batchedWriter((text) => process.stdout.write(text));
  process.on('exit', () => stdout.flush());
  const log = createLogger(stdout.write);
  let config: C;
  try {
    config = load(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`Configuration error: ${err.message}\n`);
    process.exit(78);
  }

  let server: Server;
  try {
    server = await open(config, log);
    await server.listen();
  } catch (err) {
    log.error('start_failed', describeError(err));
    process.stderr.write(`The ${what} could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }

  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      server.close().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error('stop_failed', describeError(err));
          process.exit(1);
        },
      );
    });
  }
}
