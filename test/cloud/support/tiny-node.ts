// A stand-in for `mixscale node emulated` in provider tests: listens on an OS-chosen port,
// prints the same first stdout line, answers the readiness probe, exits on SIGTERM.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  if (req.url === '/v2/health/ready') {
    res.writeHead(200).end();
    return;
  }
  if (req.url === '/argv') {
    // What it was started with after the script: the provider's filled-in placeholders.
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(process.argv.slice(2)));
    return;
  }
  res.writeHead(404).end();
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr !== null && typeof addr === 'object') process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${addr.port}` })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
