import http from 'node:http';
import zlib from 'node:zlib';

/** One pkt-line of Git's protocol: four hex digits of length, then the text. */
export const pktLine = (text: string) => `${(text.length + 4).toString(16).padStart(4, '0')}${text}`;

export type UploadPackAnswer = { status: number; type: string; body: Buffer };

/**
 * A protocol v0 fetch request as a client sends it, written by hand to ask what a well-behaved
 * client never would (an object that was not advertised): `POST <repository>/git-upload-pack`
 * with `want <oid>` and `done`, gzip'd when asked (as Git sends long negotiations).
 */
export function postUploadPack(repository: string, want: string, options: { headers?: Record<string, string>; gzip?: boolean } = {}): Promise<UploadPackAnswer> {
  const request = Buffer.from(`${pktLine(`want ${want} ofs-delta\n`)}0000${pktLine('done\n')}`);
  const headers: Record<string, string> = { 'content-type': 'application/x-git-upload-pack-request', ...options.headers };
  if (options.gzip) headers['content-encoding'] = 'gzip';
  return new Promise((resolve, reject) => {
    const req = http.request(`${repository}/git-upload-pack`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(options.gzip ? zlib.gzipSync(request) : request);
  });
}
