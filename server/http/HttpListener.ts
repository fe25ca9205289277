import type http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';

/** The life cycle both HTTP servers share (the app's and the metrics endpoint's). */
type NodeHttpServer = http.Server | https.Server;

/** Listens on exactly `ip`:`port` (0 picks a free port); rejects on EADDRINUSE and the like. */
export async function startListening(server: NodeHttpServer, { ip, port }: { ip: string; port: number }): Promise<void> {
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, ip, () => {
			server.off('error', reject);
			resolve();
		});
	});
}

/** `http://127.0.0.1:3000` or `https://[::1]:8889` for a listening server. */
export function listeningUrl(server: NodeHttpServer, scheme: 'http' | 'https' = 'http'): string {
	const { address, port, family } = server.address() as AddressInfo;
	return `${scheme}://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
}

/** Closes the server and every open connection (keep-alive ones would hold close() open). */
export async function stopListening(server: NodeHttpServer): Promise<void> {
	server.closeAllConnections();
	await new Promise<void>((resolve) => server.close(() => resolve()));
}
