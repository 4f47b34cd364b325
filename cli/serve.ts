/**
 * A small static server for the built studio (dist/). The CLI, the end-to-end tests and the benchmarks all use it,
 * so they exercise exactly what a user's browser loads. It binds to loopback only.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { basename, extname, join, normalize, relative, resolve, sep } from 'node:path';
import type { SharedFolderListing } from '../src/engine/automation';
import { listFiles } from './folder-check';
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
  /**
   * Serves a folder or a file read-only under a random path (unguessable by any other page) and returns that path:
   * for a folder, GET on it answers its listing (SharedFolderListing) and each file is under it at its relative path;
   * for a file, the path ends with the file's name. The page reads them with `window.studio.folder` / `.file`.
   */
  share(path: string): string;
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
  /** `/shared/<token>/` → the folder shared there, or the file shared as `/shared/<token>/<name>`. */
  const shares = new Map<string, { path: string; folder: boolean }>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const shared = path.startsWith('/shared/') ? shares.get(path.slice(0, path.indexOf('/', '/shared/'.length) + 1)) : undefined;
    if (shared || path.startsWith('/shared/')) {
      serveShared(shared, path, req.method ?? 'GET', headers, res);
      return;
    }
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
      const share = (target: string): string => {
        const prefix = `/shared/${randomBytes(16).toString('hex')}/`;
        const folder = statSync(target).isDirectory();
        shares.set(prefix, { path: resolve(target), folder });
        return folder ? prefix : prefix + encodeURIComponent(basename(target));
      };
      resolvePromise({ url: `http://${host}:${actual}/`, share, close });
    });
  });
}

/** A shared folder's listing or one of its files, or a shared file; anything else (or a write) is refused. */
function serveShared(shared: { path: string; folder: boolean } | undefined, path: string, method: string, headers: Record<string, string>, res: ServerResponse): void {
  if (!shared) return void res.writeHead(404).end();
  if (method !== 'GET' && method !== 'HEAD') return void res.writeHead(405, { Allow: 'GET, HEAD' }).end();
  const rest = path.slice(path.indexOf('/', '/shared/'.length) + 1);
  if (shared.folder && rest === '') {
    const listing: SharedFolderListing = { name: basename(shared.path), paths: listFiles(shared.path).map((f) => relative(shared.path, f).split(sep).join('/')) };
    return void res.writeHead(200, { ...headers, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(listing));
  }
  const file = shared.folder ? normalize(join(shared.path, rest)) : rest === basename(shared.path) ? shared.path : '';
  if (!file || (shared.folder && !file.startsWith(shared.path + sep)) || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
  res.writeHead(200, { ...headers, 'Content-Type': 'application/octet-stream', 'Cache-Control': 'no-store' });
  createReadStream(file).pipe(res);
}
