// sandbox-runtime's HTTP proxy (createHttpProxyServer, the proxy srt runs on
// the host for its sandboxes), standalone on 127.0.0.1, for the proxy
// benchmark: every destination allowed, no MITM, no parent proxy.
//   node srt_proxy.mjs PATH_TO_SANDBOX_RUNTIME_PACKAGE
// prints "PORT n" once it listens. The module is not in the package's public
// exports (index.js), so it is imported by file path.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const pkg = process.argv[2];
const mod = await import(pathToFileURL(join(pkg, 'dist', 'sandbox', 'http-proxy.js')).href);
const server = mod.createHttpProxyServer({ filter: () => true });
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
