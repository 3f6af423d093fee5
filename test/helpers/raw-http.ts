import net from 'node:net';

/** A pkt-line of Git's protocol: its length in four hex digits, then the line. */
export const pkt = (line: string) => `${(line.length + 4).toString(16).padStart(4, '0')}${line}`;

/** Sends `bytes` on a new connection and answers everything received until the server closes it (read from `readAfterMs` on). */
export function exchange(url: string, bytes: string | Buffer, readAfterMs = 0): Promise<Buffer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    if (readAfterMs > 0) {
      socket.pause();
      setTimeout(() => socket.resume(), readAfterMs);
    }
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** The status line and headers of an answer received raw, and where its body starts. */
export function head(answer: Buffer): { status: string; headers: Map<string, string>; body: Buffer } {
  const end = answer.indexOf('\r\n\r\n');
  const [status, ...lines] = answer.subarray(0, end).toString('latin1').split('\r\n');
  const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: status as string, headers, body: answer.subarray(end + 4) };
}

/** The body of a chunked answer, whole only when it ends with its last chunk. */
export function dechunk(body: Buffer): { data: Buffer; whole: boolean } {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; ) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = Number.parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (size === 0) return { data: Buffer.concat(parts), whole: true };
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return { data: Buffer.concat(parts), whole: false };
}

/** Where a whole answer at the start of `data` ends (its head, and a body framed by length or chunks); null while incomplete. */
function answerEnd(data: Buffer): number | null {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd === -1) return null;
  const { headers } = head(data.subarray(0, headEnd + 4));
  const bodyStart = headEnd + 4;
  if (headers.get('transfer-encoding') === 'chunked') {
    for (let at = bodyStart; ; ) {
      const lineEnd = data.indexOf('\r\n', at);
      if (lineEnd === -1) return null;
      const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
      const next = lineEnd + 2 + size + 2;
      if (next > data.length) return null;
      if (size === 0) return next;
      at = next;
    }
  }
  const end = bodyStart + Number(headers.get('content-length') ?? 0);
  return end <= data.length ? end : null;
}

/** One connection kept open: each `ask` sends a request and answers the server's whole answer, or null when the server closed the connection first. */
export function keptConnection(url: string): { ask(request: string): Promise<ReturnType<typeof head> | null>; closed: Promise<void>; close(): void } {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let buffered = Buffer.alloc(0);
  let isClosed = false;
  let wake: () => void = () => {};
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake();
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      isClosed = true;
      wake();
      resolve();
    }),
  );
  return {
    async ask(request) {
      socket.write(request);
      for (;;) {
        const end = answerEnd(buffered);
        if (end !== null) {
          const answer = head(buffered.subarray(0, end));
          buffered = buffered.subarray(end);
          return answer;
        }
        if (isClosed) return null;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    closed,
    close: () => socket.destroy(),
  };
}
