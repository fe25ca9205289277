import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import type { types as ms } from 'mediasoup';
import { Exporter } from '../server/exporter/Exporter.js';
import { ReverseDnsCache } from '../server/exporter/labels/ReverseDnsCache.js';
import { testConfig } from './support/signallingServer.js';
import { parseExposition, type Exposition } from './support/exposition.js';
import { startPtrServer, resolverFor } from './support/dnsPtrServer.js';
import { until } from './support/until.js';
import { router, rtpPacket, sendTransport, withExporter } from './support/exporterHarness.js';

/**
 * `deidentify` end to end over IPv4 and IPv6 with everything that could leak an address switched
 * on: personalLabels (remote_addr shown) and reverse DNS (numeric false, a resolver asking the
 * test's own PTR server, which has a name for every address here). Plain transports on 127.0.0.1
 * and ::1 (and 127.0.0.5, below) learn their client's address from the RTP it sends (comedia), so
 * both sides of each tuple are in the labels.
 */

/** prom.md: IPv4 keeps two octets, IPv6 its first 32 bits (of ::1, two zero groups). */
const V4_MASK = '127.0.x.x';
const V6_MASK = '[0:0:x:x:x:x:x:x]';

/**
 * The tuples' addresses and the PTR server's names for them. Node's resolver (c-ares) answers an
 * address listed in the hosts file from that file without asking any server, as it does 127.0.0.1
 * (and ::1 on many machines): 127.0.0.5, in no hosts file, takes IPv4 through the PTR server for sure.
 */
const ADDRESSES = [
	{ family: 'IPv4', ip: '127.0.0.1', arpa: '1.0.0.127.in-addr.arpa', ptrName: 'client-v4.ptr.test', mask: V4_MASK, ssrc: 4401 },
	{ family: 'IPv6', ip: '::1', arpa: `1.${'0.'.repeat(31)}ip6.arpa`, ptrName: 'client-v6.ptr.test', mask: V6_MASK, ssrc: 6601 },
	{ family: 'IPv4', ip: '127.0.0.5', arpa: '5.0.0.127.in-addr.arpa', ptrName: 'client-v4b.ptr.test', mask: V4_MASK, ssrc: 4405 }
] as const;

/** The addresses as text in every form they might take, reverse-lookup names and the PTR server's names. */
const RAW_FORMS = [
	'127.0.0.1',
	'127.0.0.5',
	'::1',
	'0:0:0:0:0:0:0:1',
	'0000:0000:0000:0000:0000:0000:0000:0001',
	'::0.0.0.1',
	'::ffff:127.0.0.',
	'::ffff:7f00:',
	'in-addr.arpa',
	'ip6.arpa',
	'ptr.test'
];

/** An address label under deidentify: empty, or a masked host (IPv4 or bracketed IPv6) and a port. */
const MASKED_ADDRESS = /^(?:\d{1,3}\.\d{1,3}\.x\.x|\[[0-9a-f]{1,4}:[0-9a-f]{1,4}(?::x){6}\]):\d+$/;

type Side = (typeof ADDRESSES)[number] & { transport: ms.PlainTransport; producer: ms.Producer; socket: dgram.Socket };

/** What in a deidentified body could identify a client: raw forms anywhere, address labels not masked. */
function leaksIn(body: string): string[] {
	const leaks: string[] = RAW_FORMS.filter((form) => body.includes(form));
	for (const { name, labels } of parseExposition(body).samples) {
		for (const label of ['local_addr', 'remote_addr']) {
			const value = labels[label];
			if (value && !MASKED_ADDRESS.test(value)) leaks.push(`${name} ${label}="${value}"`);
		}
		for (const value of Object.values(labels)) if (net.isIP(value)) leaks.push(`${name} "${value}"`);
	}
	return leaks;
}

async function bodyOf(exporter: Exporter, openMetrics = false): Promise<string> {
	const result = await exporter.scrape({ openMetrics });
	try {
		return Buffer.concat(result.chunks).toString();
	} finally {
		result.release();
	}
}

/** A client socket on the transport's own address, connected to its port. */
async function clientSocket(transport: ms.PlainTransport): Promise<dgram.Socket> {
	const { localIp, localPort } = transport.tuple;
	const socket = dgram.createSocket(net.isIPv6(localIp) ? 'udp6' : 'udp4');
	socket.bind(0, localIp);
	await once(socket, 'listening');
	socket.connect(localPort, localIp);
	await once(socket, 'connect');
	return socket;
}

/** [local_addr, remote_addr] of a side's transport series and of its producer's series. */
function addressesOf(m: Exposition, side: Side): string[][] {
	return [
		...m.find('mediasoup_transport_sent_bytes', { transport_id: side.transport.id }),
		...m.find('mediasoup_producer_byte_count_bytes', { id: side.producer.id })
	].map((s) => [s.labels.local_addr!, s.labels.remote_addr!]);
}

/** What addressesOf should give with `host` for the side's host: the server's port, then the client's. */
function expectedAddresses(side: Side, host: string): string[][] {
	const pair = [`${host}:${side.transport.tuple.localPort}`, `${host}:${side.socket.address().port}`];
	return [pair, pair];
}

/** The names the machine's hosts file gives `ip` (which c-ares answers from before any DNS server). */
function hostsFileNames(ip: string): string[] {
	const canonical = (address: string): string => (net.isIPv6(address) ? new URL(`http://[${address}]/`).hostname : address);
	const text = fs.existsSync('/etc/hosts') ? fs.readFileSync('/etc/hosts', 'utf8') : '';
	return text
		.split('\n')
		.map((line) => line.replace(/#.*/, '').trim().split(/\s+/))
		.filter(([address]) => address && net.isIP(address) && canonical(address) === canonical(ip))
		.flatMap(([, ...names]) => names);
}

test('deidentify over IPv4 and IPv6 with reverse DNS on: no address or name in any form, masked ones instead, no DNS query; without it, the names', async () => {
	const ptr = await startPtrServer(new Map(ADDRESSES.map((a) => [a.arpa, a.ptrName])));
	const dns = new ReverseDnsCache({ resolver: resolverFor(ptr, 2000) });
	const sides: Side[] = [];
	try {
		await withExporter(
			{ deidentify: true, numeric: false, personalLabels: true },
			async ({ stack, client, exporter }) => {
				const r = await router(stack, 'room-deid');
				for (const address of ADDRESSES) {
					const transport = await sendTransport(r, 'room-deid', `peer-${address.ssrc}`, address.ip);
					const producer = await transport.produce({
						kind: 'audio',
						rtpParameters: {
							codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
							encodings: [{ ssrc: address.ssrc }]
						}
					});
					const socket = await clientSocket(transport);
					sides.push({ ...address, transport, producer, socket });
					for (let seq = 0; seq < 5; seq++)
						socket.send(rtpPacket({ payloadType: 100, ssrc: address.ssrc, seq, timestamp: seq * 960, payloadSize: 60 }));
				}
				await until("every tuple's client side in the mirror", () =>
					sides.every((s) => client.state.transports[s.transport.id]?.tuple?.remotePort === s.socket.address().port)
				);
				assert.deepEqual(
					sides.map((s) => [s.transport.tuple.localIp, s.transport.tuple.remoteIp]),
					ADDRESSES.map((a) => [a.ip, a.ip]),
					'both ends of every tuple on its loopback address'
				);
				await until('every producer with its stream series', async () => {
					const m = parseExposition(await bodyOf(exporter));
					return sides.every((s) => m.find('mediasoup_producer_byte_count_bytes', { id: s.producer.id }).length === 1);
				});

				const assertDeidentified = async (when: string): Promise<void> => {
					for (const openMetrics of [false, true]) {
						const body = await bodyOf(exporter, openMetrics);
						const what = `${when}, ${openMetrics ? 'OpenMetrics' : 'text'}`;
						assert.deepEqual(leaksIn(body), [], `${what}: no address or name in the body`);
						const m = parseExposition(body);
						for (const side of sides)
							assert.deepEqual(
								addressesOf(m, side),
								expectedAddresses(side, side.mask),
								`${what}: ${side.ip} masked, ports kept`
							);
					}
				};
				await assertDeidentified('deidentify');
				assert.equal(dns.stats.lookups, 0, 'deidentify starts no look-up');
				assert.deepEqual(ptr.queries, [], 'and the DNS server was asked nothing');

				// The same objects without deidentify, through the same DNS cache: the first scrape
				// shows the addresses, later ones the names.
				const named = new Exporter({
					source: client,
					options: (await testConfig(stack.dir, { prometheus: { deidentify: false, numeric: false, personalLabels: true } }))
						.prometheus,
					dns
				});
				try {
					const first = parseExposition(await bodyOf(named));
					for (const side of sides)
						assert.deepEqual(
							addressesOf(first, side),
							expectedAddresses(side, net.isIPv6(side.ip) ? `[${side.ip}]` : side.ip),
							`first scrape: ${side.ip}`
						);
					const namesOf = (side: Side): string[] => {
						const listed = hostsFileNames(side.ip);
						return listed.length > 0 ? listed : [side.ptrName];
					};
					const fromPtrServer = sides.filter((s) => hostsFileNames(s.ip).length === 0);
					assert.ok(
						fromPtrServer.some((s) => s.ip === '127.0.0.5'),
						'127.0.0.5 is in no hosts file: IPv4 goes through the PTR server'
					);
					const hostsIn = (m: Exposition, side: Side): string[] =>
						addressesOf(m, side).flatMap((pair) => pair.map((a) => a.replace(/:\d+$/, '')));
					await until('the names in a scrape', async () => {
						const m = parseExposition(await bodyOf(named));
						return sides.every((s) => hostsIn(m, s).length === 4 && hostsIn(m, s).every((host) => namesOf(s).includes(host)));
					});
					const m = parseExposition(await bodyOf(named));
					for (const side of sides) {
						const [host] = hostsIn(m, side);
						assert.deepEqual(addressesOf(m, side), expectedAddresses(side, host!), side.ip);
						if (fromPtrServer.includes(side)) assert.equal(host, side.ptrName, `${side.ip}: the PTR server's name`);
					}
					assert.deepEqual(
						[...new Set(ptr.queries)].sort(),
						fromPtrServer.map((s) => s.arpa).sort(),
						'the PTR server was asked for the addresses no hosts file names'
					);

					// With the names cached, deidentify still shows none of them and asks nothing.
					const lookups = dns.stats.lookups;
					const queries = ptr.queries.length;
					await assertDeidentified('deidentify, names cached');
					assert.equal(dns.stats.lookups, lookups);
					assert.equal(ptr.queries.length, queries);
				} finally {
					named.close();
				}
			},
			{ dns }
		);
	} finally {
		for (const side of sides) side.socket.close();
		dns.close();
		ptr.close();
	}
});
