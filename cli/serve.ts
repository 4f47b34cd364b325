/**
 * A small static server for the built studio (dist/). The CLI, the end-to-end tests and the benchmarks all use it,
 * so they exercise exactly what a user's browser loads. It binds to loopback only.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { studioHeaders } from './security';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/**
 * @param mounts URL prefix → folder served under it instead of `root` (e.g. `/models/` → the CLI's --models-dir).
 *   A missing file under a mount is a 404, never the app's index page.
 */
export function serveStatic(root: string, port = 0, host = '127.0.0.1', mounts: Record<string, string> = {}, security: { isolated?: boolean } = {}): Promise<StaticServer> {
  const base = resolve(root);
  const headers = studioHeaders(security);
  if (!existsSync(join(base, 'index.html'))) throw new Error(`no built studio in ${base} (run "npm run build" first)`);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const mount = Object.keys(mounts).find((prefix) => path.startsWith(prefix));
    const dir = mount ? resolve(mounts[mount]) : base;
    let file = normalize(join(dir, mount ? path.slice(mount.length) : path));
    if (file !== dir && !file.startsWith(dir + sep)) {
      res.writeHead(403).end();
      return;
    }
    const missing = !existsSync(file) || statSync(file).isDirectory();
    if (missing && mount) {
      res.writeHead(404).end();
      return;
    }
    if (missing) file = join(base, 'index.html');
    res.writeHead(200, { ...headers, 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is in use (pick another with --port)`) : err),
    );
    server.listen(port, host, () => {
      const addr = server.address();
      const actual = typeof addr === 'object' && addr ? addr.port : port;
      // Keep-alive connections would hold close() open (and a page would keep reaching a "closed" server).
      const close = () => new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      resolvePromise({ url: `http://${host}:${actual}/`, close });
    });
  });
}
