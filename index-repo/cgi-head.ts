import type { Readable } from 'node:stream';

/** A CGI program's answer before its body: the status (from `Status:`, 200 without one) and the other headers. */
export type CgiHead = { status: number; headers: Array<[string, string]> };

const MAX_HEAD = 64 * 1024;

/** Where the header block ends (`\r\n\r\n` or `\n\n`), and where the body starts; null while incomplete. */
function headEnd(data: Buffer): { end: number; body: number } | null {
  const crlf = data.indexOf('\r\n\r\n');
  const lf = data.indexOf('\n\n');
  if (crlf === -1 && lf === -1) return null;
  if (lf === -1 || (crlf !== -1 && crlf < lf)) return { end: crlf, body: crlf + 4 };
  return { end: lf, body: lf + 2 };
}

export function parseCgiHead(text: string): CgiHead {
  let status = 200;
  const headers: Array<[string, string]> = [];
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`not a CGI header line: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
    else headers.push([name, value]);
  }
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new Error(`not a CGI status: ${JSON.stringify(text.slice(0, 80))}`);
  return { status, headers };
}

/**
 * Reads a CGI program's header block from its stdout and leaves the stream paused at the first
 * byte of the body, for the caller to pipe on. Rejects when the stream ends (or errs) first.
 */
export function readCgiHead(stdout: Readable): Promise<CgiHead> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const cleanup = () => {
      stdout.off('data', onData);
      stdout.off('end', onEnd);
      stdout.off('close', onEnd);
      stdout.off('error', onEnd);
    };
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const found = headEnd(data);
      if (!found && data.length <= MAX_HEAD) return;
      cleanup();
      stdout.pause();
      if (!found) return reject(new Error('the CGI header block is too long'));
      if (found.body < data.length) stdout.unshift(data.subarray(found.body));
      try {
        resolve(parseCgiHead(data.subarray(0, found.end).toString('latin1')));
      } catch (err) {
        reject(err);
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(data.length === 0 ? 'the CGI program ended without answering' : 'the CGI program ended inside its headers'));
    };
    stdout.on('data', onData);
    stdout.once('end', onEnd);
    stdout.once('close', onEnd);
    stdout.once('error', onEnd);
  });
}
