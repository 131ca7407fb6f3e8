import { createServer, maxHeaderSize, type IncomingMessage, type RequestListener, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Node's HTTP parser refuses a malformed request (a bad request line or header line, headers
 * over the size limit, conflicting lengths, a bad chunk) before any handler sees it, and by
 * default answers a bare 400 or 431 with no body. This answers it in the servers' own error
 * shape instead, `{"error": "..."}`, naming what was wrong; the connection is closed, since
 * the parser cannot tell where the next request would start. (`server.on('clientError', ...)`)
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  // The client is gone, or an answer already began on this connection: nothing can be sent.
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true) {
    socket.destroy();
    return;
  }
  const [status, error] = answerFor(err);
  const body = JSON.stringify({ error });
  // Destroyed as soon as written: a client that keeps its half open must not hold the socket.
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`, () => socket.destroy());
}

/** The status line and message for a parser error, with the statuses Node itself would send. */
function answerFor(err: Error & { code?: string }): [string, string] {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return ['431 Request Header Fields Too Large', `headers: over the ${maxHeaderSize}-byte limit`];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return ['408 Request Timeout', 'request: not received in time (the server\'s headers or request timeout)'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return ['413 Payload Too Large', 'request: chunk extensions over the limit'];
    default:
      return ['400 Bad Request', `request: not valid HTTP/1.1 (${err.code ?? 'parse error'}: ${err.message})`];
  }
}

/**
 * Node answers an HTTP/1.1 request without a Host header with a bare 400 (no body) when it
 * checks for one. The servers turn that check off and answer here instead, in their own error
 * shape, as they answer every other malformed request. A request that expects `100 Continue`
 * is checked before it is invited to send its body (Node would answer the Expect first).
 */
export function hostCheckedServer(options: ServerOptions, handler: RequestListener): Server {
  const server = createServer({ ...options, requireHostHeader: false }, (req, res) => {
    if (!refusedHostless(req, res)) handler(req, res);
  });
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (refusedHostless(req, res)) return;
    res.writeContinue();
    handler(req, res);
  });
  return server;
}

function refusedHostless(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.headers.host !== undefined || req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return false;
  const body = JSON.stringify({ error: 'request: an HTTP/1.1 request needs a Host header' });
  res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
  return true;
}
