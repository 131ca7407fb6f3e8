import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The smallest OIP v2 backend: answers every inference at once with a fixed tiny body, so a
 * benchmark through a proxy measures the proxy. Listens on as many ports as asked (argv[2]) in
 * one process and prints their URLs as one JSON line.
 */
const count = Number(process.argv[2] ?? 1);
const body = Buffer.from(JSON.stringify({ model_name: 'rm2', outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [0.5] }] }));
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
const urls: string[] = [];
for (let i = 0; i < count; i++) {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    if (req.url === '/v2/health/ready') {
      res.writeHead(200).end();
      return;
    }
    req.resume();
    req.on('end', () => res.writeHead(200, headers).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}
process.stdout.write(`${JSON.stringify(urls)}\n`);
