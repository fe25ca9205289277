import dgram from 'node:dgram';
import dns from 'node:dns';
import { once } from 'node:events';

export type PtrServer = {
	/** `127.0.0.1:port`, for Resolver.setServers(). */
	address: string;
	/** Query names received, e.g. '5.0.0.127.in-addr.arpa'. */
	queries: string[];
	/** While true, queries are received and not answered. */
	silent: boolean;
	/** Reverse name → host name; change it at will. */
	names: Map<string, string>;
	close(): void;
};

/**
 * A real DNS server on loopback UDP answering PTR queries from `names` (NXDOMAIN for others), so
 * reverse look-ups can be tested without the machine's resolver (which answers 127.0.0.1 from
 * /etc/hosts): use addresses like 127.0.0.5.
 */
export async function startPtrServer(names = new Map<string, string>()): Promise<PtrServer> {
	const socket = dgram.createSocket('udp4');
	const server: PtrServer = { address: '', queries: [], silent: false, names, close: () => socket.close() };
	socket.on('message', (query, rinfo) => {
		let offset = 12;
		const labels: string[] = [];
		while (offset < query.length && query[offset]! > 0) {
			labels.push(query.subarray(offset + 1, offset + 1 + query[offset]!).toString('ascii'));
			offset += query[offset]! + 1;
		}
		const questionEnd = offset + 5;
		const qname = labels.join('.').toLowerCase();
		server.queries.push(qname);
		if (server.silent) return;
		const name = server.names.get(qname);
		const header = Buffer.alloc(12);
		query.copy(header, 0, 0, 2);
		header.writeUInt16BE(name ? 0x8180 : 0x8183, 2); // response, recursion available, NOERROR / NXDOMAIN
		header.writeUInt16BE(1, 4);
		header.writeUInt16BE(name ? 1 : 0, 6);
		const parts = [header, query.subarray(12, questionEnd)];
		if (name) {
			const rdata = Buffer.concat([
				...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])),
				Buffer.from([0])
			]);
			const answer = Buffer.alloc(12);
			answer.writeUInt16BE(0xc00c, 0); // name: pointer to the question
			answer.writeUInt16BE(12, 2); // PTR
			answer.writeUInt16BE(1, 4); // IN
			answer.writeUInt32BE(60, 6);
			answer.writeUInt16BE(rdata.length, 10);
			parts.push(answer, rdata);
		}
		socket.send(Buffer.concat(parts), rinfo.port, rinfo.address);
	});
	socket.bind(0, '127.0.0.1');
	await once(socket, 'listening');
	server.address = `127.0.0.1:${socket.address().port}`;
	return server;
}

/** A resolver of its own that asks only `server`, one try, `timeoutMs` per query. */
export function resolverFor(server: PtrServer, timeoutMs = 300): dns.promises.Resolver {
	const resolver = new dns.promises.Resolver({ timeout: timeoutMs, tries: 1 });
	resolver.setServers([server.address]);
	return resolver;
}
