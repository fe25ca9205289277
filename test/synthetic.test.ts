import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { types as ms } from 'mediasoup';
import type { Server } from '../server/Server.js';
import { SyntheticPeer } from '../tools/synthetic/SyntheticPeer.js';
import { SignallingRequestError } from '../tools/synthetic/SignallingClient.js';
import { startTestServer } from './support/signallingServer.js';
import { until } from './support/until.js';

/** A server on its own media port range, with synthetic peers on or off, torn down after `body`. */
async function withServer(syntheticPeers: boolean, body: (server: Server, media: SfuMedia) => Promise<void>): Promise<void> {
	const running = await startTestServer({
		mediasoup: { worker: { logLevel: 'warn', logTags: [], rtcMinPort: 44000, rtcMaxPort: 44999 } },
		syntheticPeers: { enabled: syntheticPeers }
	});
	try {
		await body(running.server, new SfuMedia(running.server.workerPool.workers));
	} finally {
		await running.close();
	}
}

/** The server's real mediasoup producers and consumers, found through mediasoup's own observers. */
class SfuMedia {
	readonly producers = new Map<string, ms.Producer>();
	readonly consumers = new Map<string, ms.Consumer>();

	constructor(workers: ms.Worker[]) {
		for (const worker of workers) {
			worker.observer.on('newrouter', (router: ms.Router) => {
				router.observer.on('newtransport', (transport: ms.Transport) => {
					transport.observer.on('newproducer', (producer: ms.Producer) => this.producers.set(producer.id, producer));
					transport.observer.on('newconsumer', (consumer: ms.Consumer) => this.consumers.set(consumer.id, consumer));
				});
			});
		}
	}
}

async function byteCount(entity: ms.Producer | ms.Consumer): Promise<number> {
	const type = 'producerId' in entity ? 'outbound-rtp' : 'inbound-rtp';
	const stats = (await entity.getStats()) as { type: string; byteCount: number }[];
	return stats.find((s) => s.type === type)?.byteCount ?? 0;
}

test('three synthetic peers in one room send real RTP through the SFU and receive each other', async () => {
	await withServer(true, async (server, media) => {
		const peers: SyntheticPeer[] = [];
		try {
			for (let i = 1; i <= 3; i++) {
				peers.push(
					await SyntheticPeer.create({
						url: server.appUrl,
						roomId: 'synthetic-e2e',
						displayName: `synthetic ${i}`,
						videoBitrate: 300_000
					})
				);
			}
			const ids = peers.map((p) => p.peerId);
			assert.equal(new Set(ids).size, 3);
			for (const peer of peers) {
				assert.deepEqual([...peer.producers.keys()].sort(), ['audio', 'video']);
				for (const producerId of peer.producers.values()) assert.ok(media.producers.has(producerId), 'the server has the producer');
			}

			// Each peer consumes both streams of both others, and its sink receives them.
			await until('every consumer to deliver RTP (video from a keyframe on)', () =>
				peers.every((peer) => {
					const consumers = [...peer.consumers.values()];
					return (
						consumers.length === 4 &&
						consumers.every((c) => c.received.packets > 0 && (c.kind === 'audio' || c.received.keyFrames > 0))
					);
				})
			);
			for (const [i, peer] of peers.entries()) {
				const consumers = [...peer.consumers.values()];
				assert.deepEqual(new Set(consumers.map((c) => c.peerId)), new Set(ids.filter((_, j) => j !== i)));
				const others = peers.filter((_, j) => j !== i);
				assert.deepEqual(new Set(consumers.map((c) => c.producerId)), new Set(others.flatMap((o) => [...o.producers.values()])));
				for (const c of consumers) {
					assert.equal(c.received.mimeType, c.kind === 'audio' ? 'audio/opus' : 'video/VP8');
					assert.ok(media.consumers.has(c.consumerId));
				}
			}

			// Byte counts on the server grow: producers receive, consumers send.
			const before = new Map<string, number>();
			for (const entity of [...media.producers.values(), ...media.consumers.values()]) before.set(entity.id, await byteCount(entity));
			assert.equal(media.producers.size, 6);
			assert.equal(media.consumers.size, 12);
			await until('every producer and consumer byte count to grow', async () => {
				for (const entity of [...media.producers.values(), ...media.consumers.values()]) {
					if ((await byteCount(entity)) <= before.get(entity.id)!) return false;
				}
				return true;
			});
			for (const peer of peers) {
				const { sent, received } = peer.stats();
				assert.ok(sent.audio!.packets > 0 && sent.video!.bytes > 0);
				assert.equal(received.receiving, 4);
				// Loopback at a few hundred packets per second: nothing lost between SFU and sink.
				assert.equal(received.lost, 0);
			}

			// One leaves: the others lose its two consumers and see it go; its producers close.
			const [leaving, ...staying] = peers as [SyntheticPeer, ...SyntheticPeer[]];
			const closedConsumers = staying.map(
				(peer) =>
					new Promise<string[]>((resolve) => {
						const gone: string[] = [];
						peer.on('consumerclosed', (c) => {
							gone.push(c.peerId);
							if (gone.length === 2) resolve(gone);
						});
					})
			);
			const leftProducers = [...leaving.producers.values()].map((id) => media.producers.get(id)!);
			await leaving.close();
			await leaving.close();
			assert.ok(leaving.closed);
			for (const gone of await Promise.all(closedConsumers)) assert.deepEqual(gone, [leaving.peerId, leaving.peerId]);
			await until("the leaver's producers to close on the server", () => leftProducers.every((p) => p.closed));
			for (const peer of staying) {
				assert.equal(peer.consumers.size, 2);
				assert.ok(!peer.peers.has(leaving.peerId));
			}
		} finally {
			await Promise.all(peers.map((peer) => peer.close()));
		}
	});
});

test('an audio-only synthetic peer produces only audio; plain transports are refused when synthetic peers are off', async () => {
	await withServer(true, async (server, media) => {
		const audioOnly = await SyntheticPeer.create({ url: server.appUrl, roomId: 'synthetic-audio', video: false });
		const listener = await SyntheticPeer.create({ url: server.appUrl, roomId: 'synthetic-audio', audio: false, video: false });
		try {
			assert.deepEqual([...audioOnly.producers.keys()], ['audio']);
			assert.equal(listener.producers.size, 0);
			await until('the listener to receive the audio', () =>
				[...listener.consumers.values()].some((c) => c.kind === 'audio' && c.received.packets > 10)
			);
			assert.equal(listener.consumers.size, 1);
			assert.ok(media.producers.get(audioOnly.producers.get('audio')!));
		} finally {
			await audioOnly.close();
			await listener.close();
		}
	});
	await withServer(false, async (server) => {
		await assert.rejects(
			SyntheticPeer.create({ url: server.appUrl, roomId: 'synthetic-off' }),
			(error: unknown) => error instanceof SignallingRequestError && error.errorName === 'NotAllowedError'
		);
	});
});

test('scripts/loadgen runs 2 rooms × 3 peers against the server, reports progress and a loss-free summary', async () => {
	await withServer(true, async (server) => {
		const child = spawn(
			'scripts/loadgen',
			['--url', server.appUrl, '--rooms', '2', '--peers', '3', '--duration', '3', '--video-kbps', '300'],
			{ stdio: ['ignore', 'pipe', 'pipe'] }
		);
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (d: Buffer) => {
			stdout += d.toString();
		});
		child.stderr.on('data', (d: Buffer) => {
			stderr += d.toString();
		});
		const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
		assert.equal(code, 0, `${stdout}\n${stderr}`);
		const summary = /^loadgen summary: (.*)$/m.exec(stdout);
		assert.ok(summary, stdout);
		const fields = Object.fromEntries(summary[1]!.split(' ').map((kv) => kv.split('=') as [string, string]));
		assert.equal(fields.peers, '6/6');
		assert.equal(fields.join_failures, '0');
		// Each peer sends ~50 + ~60 packets/s and receives that from each of 2 others.
		assert.ok(Number(fields.sent_pps) > 6 * 80, summary[0]);
		assert.ok(Number(fields.recv_pps) > 1.5 * Number(fields.sent_pps), summary[0]);
		assert.equal(fields.loss, '0.00%');
		assert.match(stderr, /peers 6\/6 {2}producers 12 {2}consumers 24\/24 receiving/);
	});
});

test('scripts/loadgen stops on SIGINT: its peers leave and it still prints the summary', async () => {
	await withServer(true, async (server, media) => {
		const child = spawn('scripts/loadgen', ['--url', server.appUrl, '--rooms', '1', '--peers', '2', '--duration', '600'], {
			stdio: ['ignore', 'pipe', 'pipe']
		});
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (d: Buffer) => {
			stdout += d.toString();
		});
		child.stderr.on('data', (d: Buffer) => {
			stderr += d.toString();
		});
		const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
		try {
			await until('both peers to receive each other', () => /consumers 4\/4 receiving/.test(stderr), 30_000);
			assert.equal(media.producers.size, 4);
			child.kill('SIGINT');
			assert.equal(await exited, 0, `${stdout}\n${stderr}`);
		} finally {
			if (child.exitCode === null) child.kill('SIGKILL');
		}
		assert.match(stdout, /^loadgen summary: rooms=1 peers=2\/2 join_failures=0 /m);
		assert.match(stderr, /SIGINT, stopping/);
		await until("the loadgen peers' producers to close on the server", () => [...media.producers.values()].every((p) => p.closed));
	});
});
