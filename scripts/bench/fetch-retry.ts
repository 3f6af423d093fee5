/** Methods a client may send again when its connection closed before any answer (RFC 9110, 9.2.2). */
const idempotent = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** Whether `err` is fetch's failure on a connection the server had closed: the request was never answered. */
function closedBeforeAnswer(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return err instanceof TypeError && ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(cause?.code ?? '');
}

/**
 * Makes this process's `fetch` send an idempotent request once more when it failed because its
 * kept-alive connection had been closed by the server, as browsers and curl do: a client whose
 * event loop was held up past the server's keep-alive timeout reuses a connection the server
 * has just closed. Answers the count of such retries.
 */
export function retryClosedConnections(): { retries(): number } {
  const original = globalThis.fetch;
  let retries = 0;
  globalThis.fetch = async (input, init) => {
    try {
      return await original(input, init);
    } catch (err) {
      const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
      if (!idempotent.has(method) || !closedBeforeAnswer(err)) throw err;
      retries += 1;
      return original(input, init);
    }
  };
  return { retries: () => retries };
}
