import http from 'node:http';
import https from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';

export type GetOptions = {
	headers?: Record<string, string>;
	/** PEM of the CA to trust (https). */
	ca?: Buffer | string;
	/** Client certificate and key (mutual TLS). */
	cert?: Buffer | string;
	key?: Buffer | string;
	timeoutMs?: number;
};

export type GetResult = { status: number; headers: http.IncomingHttpHeaders; body: string; peerCertificate?: PeerCertificate };

/**
 * One GET over http or https with node's own client, no agent (so no pooled connection hides a
 * handshake) and a deadline. Rejects on network and TLS errors.
 */
export function httpGet(url: string, { headers = {}, ca, cert, key, timeoutMs = 10_000 }: GetOptions = {}): Promise<GetResult> {
	return new Promise((resolve, reject) => {
		const secure = url.startsWith('https:');
		const options = { headers, agent: false as const, timeout: timeoutMs, ...(secure ? { ca, cert, key } : {}) };
		const req = (secure ? https : http).get(url, options, (res) => {
			const peerCertificate = secure ? (res.socket as TLSSocket).getPeerCertificate() : undefined;
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (chunk: string) => {
				body += chunk;
			});
			res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, peerCertificate }));
			res.on('error', reject);
		});
		req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
		req.on('error', reject);
	});
}

export function basicAuth(user: string, password: string): Record<string, string> {
	return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}
