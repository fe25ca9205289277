import dgram from 'node:dgram';
import dns from 'node:dns';
import { once } from 'node:events';
import type { PtrServer } from './dnsPtrServer.js';

export type HeldDnsRelay = {
	/** `127.0.0.1:port`, for Resolver.setServers(). */
	address: string;
	/** Queries received and not yet passed on (the look-ups provably in flight). */
	readonly held: number;
	/** Answers passed back to the asker. */
	readonly answered: number;
	/** Passes on the held queries and every later one: the answers then come from the upstream server. */
	release(): void;
	close(): void;
};

/**
 * A DNS server on loopback UDP that holds every query until the test calls release(), then relays
 * it to `upstream` and the answer back: for proving that something finishes while a look-up is
 * still pending, with no stopwatch.
 */
export async function startHeldDnsRelay(upstream: PtrServer): Promise<HeldDnsRelay> {
	const front = dgram.createSocket('udp4');
	const [upstreamHost, upstreamPort] = upstream.address.split(':') as [string, string];
	const queue: { query: Buffer; rinfo: dgram.RemoteInfo }[] = [];
	const relays = new Set<dgram.Socket>();
	let released = false;
	let answered = 0;
	let closed = false;
	const pass = (query: Buffer, rinfo: dgram.RemoteInfo): void => {
		const relay = dgram.createSocket('udp4');
		relays.add(relay);
		relay.on('message', (answer) => {
			relay.close();
			relays.delete(relay);
			if (closed) return;
			answered++;
			front.send(answer, rinfo.port, rinfo.address);
		});
		relay.send(query, Number(upstreamPort), upstreamHost);
	};
	front.on('message', (query, rinfo) => {
		if (released) pass(query, rinfo);
		else queue.push({ query, rinfo });
	});
	front.bind(0, '127.0.0.1');
	await once(front, 'listening');
	return {
		address: `127.0.0.1:${front.address().port}`,
		get held() {
			return queue.length;
		},
		get answered() {
			return answered;
		},
		release() {
			released = true;
			for (const { query, rinfo } of queue.splice(0)) pass(query, rinfo);
		},
		close() {
			closed = true;
			for (const relay of relays) relay.close();
			front.close();
		}
	};
}

/** A resolver of its own that asks only `relay`, one try, `timeoutMs` per query (long: a held query must outlive the test's steps). */
export function resolverForRelay(relay: HeldDnsRelay, timeoutMs = 20_000): dns.promises.Resolver {
	const resolver = new dns.promises.Resolver({ timeout: timeoutMs, tries: 1 });
	resolver.setServers([relay.address]);
	return resolver;
}
