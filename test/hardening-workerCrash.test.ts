import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from './support/signallingServer.js';
import { type Exposition, scrape } from './support/exposition.js';
import { promtoolCheckMetrics } from './support/prometheus.js';
import { SyntheticPeer } from '../tools/synthetic/SyntheticPeer.js';
import { until } from './support/until.js';

// A worker SIGKILLed during a meeting: the server stays up, the rooms on that worker close with
// roomClosed and their peers join again on a healthy worker, the death is counted, and the room on
// the other worker keeps forwarding media throughout.

/** Bytes the SFU has sent on the consumers of one room, per the exposition. */
function roomConsumerBytes(exposition: Exposition, roomId: string): number {
	return exposition.find('mediasoup_consumer_byte_count_bytes', { room_id: roomId }).reduce((sum, s) => sum + s.value, 0);
}

/** Bytes the peers of a room have received (their sinks count every RTP packet). */
function receivedBytes(peers: SyntheticPeer[]): number {
	return peers.reduce((sum, p) => sum + p.stats().received.bytes, 0);
}

/** Both peers receive both streams of the other (video from a keyframe on). */
function flowing(peers: SyntheticPeer[]): boolean {
	return peers.every((p) => p.consumers.size === 2 && [...p.consumers.values()].every((c) => c.received.packets > 0));
}

test(
	'a SIGKILLed worker: its room closes with roomClosed and re-joins elsewhere, the other room keeps its media, the death is counted',
	{ timeout: 120_000 },
	async () => {
		const server = await startTestServer({
			mediasoup: { numWorkers: 2 },
			syntheticPeers: { enabled: true },
			prometheus: { numeric: true }
		});
		const peers: SyntheticPeer[] = [];
		const join = async (roomId: string, displayName: string): Promise<SyntheticPeer> => {
			const peer = await SyntheticPeer.create({ url: server.url, roomId, displayName, videoBitrate: 200_000 });
			peers.push(peer);
			return peer;
		};
		try {
			const s = server.server;
			const metricsUrl = s.metricsUrl!;
			const [workerA, workerB] = s.workerPool.workers;
			assert.ok(workerA && workerB);
			// Rooms go to the least-loaded worker: the first room's transports send the second elsewhere.
			const doomed = [await join('doomed', 'Ada'), await join('doomed', 'Bert')];
			const steady = [await join('steady', 'Cleo'), await join('steady', 'Dan')];
			const doomedPid = s.meetingServer.rooms.get('doomed')!.workerPid;
			const steadyPid = s.meetingServer.rooms.get('steady')!.workerPid;
			assert.notEqual(doomedPid, steadyPid, 'one room on each worker');
			await until('media flowing in both rooms', () => flowing(doomed) && flowing(steady));
			const steadyConsumerIds = steady.flatMap((p) => [...p.consumers.keys()]).sort();
			await until(
				"the exposition to show the steady room's consumers sending",
				async () => roomConsumerBytes((await scrape(metricsUrl)).exposition, 'steady') > 0
			);

			const roomClosed = doomed.map((p) => new Promise<string>((resolve) => p.once('close', resolve)));
			const beforeKill = {
				received: receivedBytes(steady),
				exported: roomConsumerBytes((await scrape(metricsUrl)).exposition, 'steady')
			};
			process.kill(doomedPid, 'SIGKILL');

			// The doomed room's peers are told and end; the server stays up.
			assert.deepEqual(await Promise.all(roomClosed), ['room closed (worker died)', 'room closed (worker died)']);
			assert.equal(s.meetingServer.rooms.has('doomed'), false);
			await until("the dead worker's objects to leave the state", () => {
				const state = s.sfuObserver.state;
				return (
					!Object.values(state.routers).some((r) => r.workerPid === doomedPid) &&
					!Object.values(state.peers).some((p) => p.roomId === 'doomed')
				);
			});

			// The steady room never stopped: same consumers, bytes growing at the peers and in the exposition.
			await until("the steady room's peers to keep receiving", () => receivedBytes(steady) > beforeKill.received + 20_000);
			await until(
				"the steady room's exported byte counts to keep growing",
				async () => roomConsumerBytes((await scrape(metricsUrl)).exposition, 'steady') > beforeKill.exported
			);
			assert.deepEqual(
				steady.flatMap((p) => [...p.consumers.keys()]).sort(),
				steadyConsumerIds,
				"the steady room's consumers were not recreated"
			);
			assert.ok(steady.every((p) => !p.closed));

			// The death is in the exposition; the replacement worker appears; nothing of the dead pid remains.
			await until('the pool to replace the worker', () => s.workerPool.workers.length === 2);
			const { body, exposition } = await scrape(metricsUrl);
			assert.equal(exposition.value('mediasoup_worker_deaths_total'), 1);
			assert.equal(exposition.value('mediasoup_workers'), 2);
			assert.deepEqual(
				exposition.samples.filter((sample) => sample.labels.pid === String(doomedPid)),
				[],
				'no series of the dead worker'
			);
			assert.deepEqual(exposition.find('edumeet_peers', { room_id: 'doomed' }), []);
			assert.equal(exposition.value('edumeet_rooms_closed_total'), 1);
			const lint = promtoolCheckMetrics(body);
			assert.equal(lint.status, 0, lint.output);

			// The doomed room's peers join again, on a healthy worker, and their media flows.
			const rejoined = [await join('doomed', 'Ada'), await join('doomed', 'Bert')];
			const newPid = s.meetingServer.rooms.get('doomed')!.workerPid;
			assert.notEqual(newPid, doomedPid);
			assert.ok(
				s.workerPool.workers.some((w) => w.pid === newPid),
				'a live worker'
			);
			await until('media flowing in the re-joined room', () => flowing(rejoined));

			// And a brand-new room works too.
			const fresh = [await join('fresh', 'Eve'), await join('fresh', 'Finn')];
			await until('media flowing in a new room', () => flowing(fresh));
			assert.equal(s.workerPool.deaths, 1);
			assert.ok(
				steady.every((p) => !p.closed),
				'the steady room was left alone throughout'
			);
		} finally {
			await Promise.all(peers.map((p) => p.close()));
			await server.close();
		}
	}
);
