import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';

/** The production configuration of README.md, the one file both the docs and the benchmark use. */
export const SITE_TEMPLATE = path.resolve(import.meta.dirname, '../../docs/nginx.conf');

export type SiteValues = { LISTEN: string; REGISTRY_DATA: string; GATEWAY: string };

/**
 * Renders docs/nginx.conf as `envsubst '${LISTEN} ${REGISTRY_DATA} ${GATEWAY}'` does: only
 * those three variables, in either spelling, so that nginx's own variables stay as they are.
 */
export function renderSite(template: string, values: SiteValues): string {
  return template.replace(/\$\{(LISTEN|REGISTRY_DATA|GATEWAY)\}|\$(LISTEN|REGISTRY_DATA|GATEWAY)\b/g, (_, braced?: string, bare?: string) => {
    return values[(braced ?? bare) as keyof SiteValues];
  });
}

/**
 * The main configuration around the site for a run without root's folders: one worker, in the
 * foreground, every path in `dir`, the access log on (one line per request, as the gateway's)
 * unless `accessLog` is false.
 */
export function mainConfig(dir: string, siteFile: string, accessLog: boolean): string {
  const lines = [
    'daemon off;',
    'worker_processes 1;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'error.log')} warn;`,
    // As root, nginx would run its worker as `nobody`, which cannot read a private temp folder.
    ...(process.getuid?.() === 0 ? [`user ${os.userInfo().username};`] : []),
    'events { worker_connections 1024; }',
    'http {',
    '  include /etc/nginx/mime.types;',
    '  default_type application/octet-stream;',
    '  sendfile on;',
    '  tcp_nopush on;',
    '  keepalive_requests 1000000;',
    `  access_log ${accessLog ? path.join(dir, 'access.log') : 'off'};`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `  ${name}_temp_path ${path.join(dir, name)};`),
    `  include ${siteFile};`,
    '}',
  ];
  return lines.join('\n') + '\n';
}

/** Writes the rendered site and the main configuration into `dir`; returns the main file. */
export function writeNginxConfig(dir: string, values: SiteValues, accessLog: boolean): string {
  const site = path.join(dir, 'gren-registry.conf');
  fs.writeFileSync(site, renderSite(fs.readFileSync(SITE_TEMPLATE, 'utf8'), values));
  const main = path.join(dir, 'nginx.conf');
  fs.writeFileSync(main, mainConfig(dir, site, accessLog));
  return main;
}

/** Starts nginx in the foreground on `main`, behind `prefix` (such as `taskset -c 0`). */
export function startNginx(main: string, prefix: string[]): ChildProcess {
  const [command, ...args] = [...prefix, 'nginx', '-c', main, '-e', path.join(path.dirname(main), 'error.log')];
  return spawn(command as string, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The count of lines nginx's access log holds now. */
export function accessLogLines(dir: string): number {
  try {
    const data = fs.readFileSync(path.join(dir, 'access.log'));
    let lines = 0;
    for (let at = data.indexOf(10); at !== -1; at = data.indexOf(10, at + 1)) lines++;
    return lines;
  } catch {
    return 0;
  }
}
