import type { Config } from './config.ts';

/** The public index's `config.json`, as docs/protocol.md describes it. */
export function indexConfigFile(config: Config): Uint8Array {
  const body = { protocol: 1, api: config.registryUrl, index: `${config.registryUrl}/index` };
  return Buffer.from(JSON.stringify(body, null, 2) + '\n');
}
