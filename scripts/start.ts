import { loadConfig } from '../gateway/config.ts';
import { openRegistry } from '../gateway/registry.ts';
import { runServer } from './run-server.ts';

await runServer('registry', loadConfig, (config, log) => openRegistry(config, { log }));
