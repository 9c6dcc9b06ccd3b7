/** A reference server as a process of its own: `serve-reference.ts <ws|socketio> <port>`. */
import { startSocketIoServer, startWsServer } from './reference-servers.js';

const [kind, port] = process.argv.slice(2);
if (kind !== 'ws' && kind !== 'socketio') {
  console.error('usage: serve-reference.ts <ws|socketio> <port>');
  process.exit(2);
}
const server = await (kind === 'socketio' ? startSocketIoServer : startWsServer)(Number(port));
console.log(`${kind} reference server listening on 127.0.0.1:${server.port}`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
