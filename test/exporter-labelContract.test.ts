import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SyntheticPeer } from '../tools/synthetic/SyntheticPeer.js';
import { syntheticRtpCapabilities } from '../tools/synthetic/syntheticRtpCapabilities.js';
import { startTestServer, type TestServer } from './support/signallingServer.js';
import { SignallingClient } from './support/signallingClient.js';
import { ReportingReceiver } from './support/ReportingReceiver.js';
import { ReportingSender } from './support/ReportingSender.js';
import { parseExposition, type Exposition } from './support/exposition.js';
import { documentedLabelContract, labelContractViolations } from './support/promLabelContract.js';

/**
 * prom.md as a label contract: every family its tables document has, in a live scrape of a real
 * server, samples with exactly the documented label names (the stream and transport sets read
 * from its Labels section), in both exposition formats. What synthetic peers cannot produce is
 * made here: a WebRTC transport (ICE and DTLS state), RTCP answered by hand (round-trip times),
 * a refused message (edumeet_rejected_messages_total).
 */

const ROOM = 'contract';
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

async function scrape(server: TestServer, accept?: string): Promise<Exposition> {
	const response = await fetch(server.server.metricsUrl!, accept ? { headers: { accept } } : {});
	assert.equal(response.status, 200);
	return parseExposition(await response.text());
}

test("every family of prom.md's tables is in a live scrape with exactly its documented label names, in both formats", async () => {
	const doc = fs.readFileSync('prom.md', 'utf8');
	const contract = documentedLabelContract(doc);
	// The parser reads every table: each family a cruder look at the reference finds is in the contract.
	const reference = doc.slice(doc.indexOf('\n## Metric reference'), doc.indexOf('\n## Configuration'));
	const rowNames = [...reference.matchAll(/^\| `((?:edumeet|mediasoup|meter_sfu)_\w+)` \|/gm)].flatMap(([, name]) =>
		name!.includes('_P_') ? [name!.replace('_P_', '_producer_'), name!.replace('_P_', '_consumer_')] : [name!]
	);
	const names = contract.map((f) => f.name);
	assert.ok(rowNames.length > 60, `${rowNames.length} rows`);
	assert.deepEqual(
		rowNames.filter((n) => !names.includes(n)),
		[],
		'rows the contract parser missed'
	);
	for (const seed of ['edumeet_rooms', 'edumeet_peers', 'mediasoup_producer_byte_count_bytes', 'mediasoup_producer_round_trip_seconds'])
		assert.ok(names.includes(seed), seed);
	assert.ok(
		contract.filter((f) => /^mediasoup_(producer|consumer|transport)_/.test(f.name)).every((f) => (f.labels?.length ?? 0) > 5),
		'per-object families carry the label sets of the Labels section'
	);

	const server = await startTestServer({ syntheticPeers: { enabled: true } });
	const peers: SyntheticPeer[] = [];
	let receiver: ReportingReceiver | undefined;
	let sender: ReportingSender | undefined;
	let browser: SignallingClient | undefined;
	try {
		peers.push(
			await SyntheticPeer.create({ url: server.url, roomId: ROOM, displayName: 'Alice' }),
			await SyntheticPeer.create({ url: server.url, roomId: ROOM, displayName: 'Bob' })
		);
		// Round-trip times: mediasoup measures a consumer's from receiver reports answering its
		// sender reports, a producer's from DLRR blocks answering its XR receiver reference times.
		receiver = await ReportingReceiver.create({ url: server.url, roomId: ROOM });
		sender = await ReportingSender.create({ url: server.url, roomId: ROOM });
		// A browser-like peer: a WebRTC transport (through the worker's WebRtcServer) in ICE and DTLS state `new`.
		browser = await SignallingClient.connect(server.url);
		const { routerRtpCapabilities } = await browser.requestOk('getRouterRtpCapabilities', { roomId: ROOM });
		await browser.requestOk('join', {
			roomId: ROOM,
			displayName: 'Browser',
			rtpCapabilities: syntheticRtpCapabilities(routerRtpCapabilities)
		});
		const webrtc = await browser.requestOk('createWebRtcTransport', { direction: 'send' });
		// A message refused at the edge, so edumeet_rejected_messages_total has a series.
		await browser.rawRequest({ method: 'noSuchMethod', data: {} });

		// Polled until both round-trip times are measured or 30 s passed; a family still missing
		// then is named by the contract check below, with any other.
		const { producerId } = sender;
		const reporterId = receiver.peerId;
		const measured = (m: Exposition): boolean =>
			m.find('mediasoup_producer_round_trip_seconds', { id: producerId }).length === 1 &&
			m.find('mediasoup_consumer_round_trip_seconds', { peer_id: reporterId }).length > 0;
		const deadline = Date.now() + 30_000;
		while (!measured(await scrape(server)) && Date.now() < deadline) await sleep(100);

		for (const accept of [undefined, OPENMETRICS]) {
			const m = await scrape(server, accept);
			const format = accept ? 'OpenMetrics' : 'text';
			assert.deepEqual(labelContractViolations(contract, m), [], `${format}: families against prom.md's labels`);
			// The families made here by hand come from what was built for them: round trips of about
			// the 20 ms the reporters simulate (plus loopback and scheduling).
			const producerRtt = m.value('mediasoup_producer_round_trip_seconds', { id: producerId });
			assert.ok(producerRtt >= 0.015 && producerRtt < 0.5, `${format}: producer round trip ${producerRtt} s`);
			for (const { value } of m.find('mediasoup_consumer_round_trip_seconds', { peer_id: reporterId }))
				assert.ok(value >= 0.015 && value < 0.5, `${format}: consumer round trip ${value} s`);
			assert.equal(m.value('mediasoup_transport_ice_state', { transport_id: webrtc.id, state: 'new' }), 1, format);
			assert.equal(m.value('mediasoup_transport_dtls_state', { transport_id: webrtc.id, state: 'new' }), 1, format);
			assert.equal(m.value('edumeet_rejected_messages_total', { reason: 'unknown_method' }), 1, format);
		}
	} finally {
		browser?.close();
		sender?.close();
		receiver?.close();
		await Promise.all(peers.map((p) => p.close()));
		await server.close();
	}
});
