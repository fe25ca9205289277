import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ObserverStreamClient } from '../server/stream/ObserverStreamClient.js';
import { Exporter } from '../server/exporter/Exporter.js';
import { MetricsHttpServer } from '../server/exporter/MetricsHttpServer.js';
import { SyntheticPeer } from '../tools/synthetic/SyntheticPeer.js';
import { startTestServer } from './support/signallingServer.js';
import { aroundGetStats, type GetStatsAnswer } from './support/exporterHarness.js';
import { parseExposition, scrape, type Exposition } from './support/exposition.js';
import { promtoolCheckMetrics } from './support/prometheus.js';
import { until } from './support/until.js';

// A worker SIGKILLed while the exporter's stats sweep waits for it: a real Server with two workers
// and a room on each, synthetic peers sending RTP in both, an Exporter over the real observer
// stream served by the real MetricsHttpServer. The kill is pinned inside the sweep, not timed: the
// doomed worker is stopped (SIGSTOP) so that it can answer nothing, and SIGKILLed right after the
// server has asked it for an object's stats, while the exporter's getStats request is outstanding.

/** Bytes the SFU has sent on each consumer of a room, by consumer id. */
function consumerBytes(exposition: Exposition, roomId: string): Map<string, number> {
	return new Map(exposition.find('mediasoup_consumer_byte_count_bytes', { room_id: roomId }).map((s) => [s.labels.id!, s.value]));
}

function total(bytes: Map<string, number>): number {
	return [...bytes.values()].reduce((sum, n) => sum + n, 0);
}

/** Samples with `pid` as the value of any label. */
function samplesOf(exposition: Exposition, pid: number): string[] {
	return exposition.samples
		.filter((s) => Object.values(s.labels).includes(String(pid)))
		.map((s) => `${s.name}${JSON.stringify(s.labels)}`);
}

/** Bytes the peers of a room have received (their sinks count every RTP packet). */
function receivedBytes(peers: SyntheticPeer[]): number {
	return peers.reduce((sum, p) => sum + p.stats().received.bytes, 0);
}

/** Both peers receive both streams of the other (video from a keyframe on). */
function flowing(peers: SyntheticPeer[]): boolean {
	return peers.every((p) => p.consumers.size === 2 && [...p.consumers.values()].every((c) => c.received.packets > 0));
}

/** Calls `asked` right after the server has asked the worker for the stats of one of `objects`. */
function onStatsAsked(objects: readonly { getStats(): Promise<unknown> }[], asked: () => void): void {
	for (const object of objects) {
		const getStats = object.getStats.bind(object);
		object.getStats = () => {
			const asking = getStats();
			asked();
			return asking;
		};
	}
}

/** The state letter of a process in /proc (`T`: stopped by a signal). */
function processState(pid: number): string {
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/** What every answer must be, whenever it was asked: promtool-clean, in sync, no collector lost. */
function assertSound(body: string, what: string): Exposition {
	const lint = promtoolCheckMetrics(body);
	assert.equal(lint.status, 0, `${what}: promtool check metrics:\n${lint.output}`);
	const exposition = parseExposition(body);
	assert.equal(exposition.value('meter_sfu_exporter_up'), 1, `${what}: up`);
	assert.equal(exposition.value('meter_sfu_exporter_build_errors'), 0, `${what}: build errors`);
	return exposition;
}

test(
	"a worker SIGKILLed during the stats sweep: every scrape answers, the sweep's objects on it drop out as closed, no later scrape shows its pid, the other room's bytes keep growing, the death is counted",
	{ timeout: 180_000 },
	async () => {
		const server = await startTestServer({
			mediasoup: { numWorkers: 2 },
			syntheticPeers: { enabled: true },
			prometheus: { numeric: true, scrapeTimeoutMs: 30_000 }
		});
		const s = server.server;
		const peers: SyntheticPeer[] = [];
		const join = async (roomId: string, displayName: string): Promise<SyntheticPeer> => {
			const peer = await SyntheticPeer.create({ url: server.url, roomId, displayName, videoBitrate: 200_000 });
			peers.push(peer);
			return peer;
		};
		const client = new ObserverStreamClient({ socketPath: s.observerSocketPath, requestTimeoutMs: 60_000 });
		let exporter: Exporter | undefined;
		let http: MetricsHttpServer | undefined;
		try {
			// Rooms go to the least-loaded worker: the first room's transports send the second elsewhere.
			const doomed = [await join('doomed', 'Ada'), await join('doomed', 'Bert')];
			const steady = [await join('steady', 'Cleo'), await join('steady', 'Dan')];
			const doomedPid = s.meetingServer.rooms.get('doomed')!.workerPid;
			const steadyPid = s.meetingServer.rooms.get('steady')!.workerPid;
			assert.notEqual(doomedPid, steadyPid, 'one room on each worker');
			await until('media flowing in both rooms', () => flowing(doomed) && flowing(steady), 60_000);
			const steadyConsumers = steady.flatMap((p) => [...p.consumers.keys()]).sort();

			// The exporter's getStats requests go through `gate`, which counts those outstanding and
			// keeps the answers that arrive once the worker is dead.
			const gate = { outstanding: 0, killedWith: undefined as number | undefined, lateAnswers: [] as GetStatsAnswer[] };
			await client.connect();
			const source = aroundGetStats(client, async (ask) => {
				gate.outstanding++;
				try {
					const answer = await ask();
					if (gate.killedWith !== undefined) gate.lateAnswers.push(answer);
					return answer;
				} finally {
					gate.outstanding--;
				}
			});
			exporter = new Exporter({ source, options: s.config.prometheus });
			http = await MetricsHttpServer.create({ ip: '127.0.0.1', port: 0, exporter });
			const metricsUrl = `${http.url}/metrics`;
			const e = exporter;
			const scrapeHttp = async (what: string): Promise<Exposition> => assertSound((await scrape(metricsUrl)).body, what);
			/** Each scrape's steady-room bytes, in order: they only grow. */
			const steadyBytes: number[] = [];
			const assertSteady = (m: Exposition, what: string): void => {
				const bytes = consumerBytes(m, 'steady');
				assert.deepEqual([...bytes.keys()].sort(), steadyConsumers, `${what}: every consumer of the steady room`);
				const sum = total(bytes);
				assert.ok(sum > (steadyBytes.at(-1) ?? 0), `${what}: steady bytes ${sum} after ${steadyBytes.join(', ')}`);
				steadyBytes.push(sum);
			};
			/** Until the steady room's peers have received more (so the SFU has sent more since the last scrape). */
			const moreMedia = async (): Promise<void> => {
				const received = receivedBytes(steady);
				await until("the steady room's peers to receive more", () => receivedBytes(steady) > received + 20_000, 30_000);
			};

			// Before: both workers' objects swept and shown.
			for (const n of [1, 2, 3]) {
				await moreMedia();
				const m = await scrapeHttp(`before #${n}`);
				assertSteady(m, `before #${n}`);
				assert.equal(consumerBytes(m, 'doomed').size, 4, `before #${n}: the doomed room's consumers`);
				assert.ok(samplesOf(m, doomedPid).length > 0, `before #${n}: the doomed worker's pid is shown`);
				assert.equal(m.value('mediasoup_worker_deaths_total'), 0);
				assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'error' }), 0);
			}

			// The doomed worker's transports, producers and consumers, as the exporter's mirror has them.
			const state = client.state;
			const doomedIds = {
				transport: Object.values(state.transports)
					.filter((t) => t.roomId === 'doomed')
					.map((t) => t.id),
				producer: Object.values(state.producers)
					.filter((p) => p.roomId === 'doomed')
					.map((p) => p.id),
				consumer: Object.values(state.consumers)
					.filter((c) => c.roomId === 'doomed')
					.map((c) => c.id)
			};
			const doomedRouter = state.routers[state.rooms.doomed!.routerId]!;
			assert.equal(doomedRouter.workerPid, doomedPid);
			const allDoomed = [...doomedIds.transport, ...doomedIds.producer, ...doomedIds.consumer].sort();
			assert.equal(allDoomed.length, 4 + 4 + 4, 'two transports, two producers and two consumers per peer');
			const steadyObjects = ['transports', 'producers', 'consumers'] as const;
			const steadyCount = steadyObjects.reduce(
				(n, kind) => n + Object.values(state[kind]).filter((o) => o.roomId === 'steady').length,
				0
			);

			// During: the kill, then at once a scrape that begins after the death and so joins the sweep in flight.
			let joined: Promise<string> | undefined;
			onStatsAsked(
				[
					...doomedIds.transport.map((id) => s.sfuObserver.lookup('transport', id)!),
					...doomedIds.producer.map((id) => s.sfuObserver.lookup('producer', id)!),
					...doomedIds.consumer.map((id) => s.sfuObserver.lookup('consumer', id)!)
				],
				() => {
					if (gate.killedWith !== undefined) return;
					gate.killedWith = gate.outstanding;
					process.kill(doomedPid, 'SIGKILL');
					joined = e.scrape().then(({ chunks, release }) => {
						const body = Buffer.concat(chunks).toString();
						release();
						return body;
					});
				}
			);
			await moreMedia();
			// Stopped first, so the worker answers none of the sweep's requests before SIGKILL lands.
			process.kill(doomedPid, 'SIGSTOP');
			await until('the doomed worker to stop', () => processState(doomedPid) === 'T');
			const death = await scrapeHttp('the scrape during the death');
			assert.equal(gate.killedWith, 1, "killed while the sweep's getStats request was outstanding");
			assert.ok(joined, 'a scrape began right after the kill');
			const afterKill = assertSound(await joined, 'the scrape that began after the kill');
			assert.deepEqual(samplesOf(afterKill, doomedPid), [], 'the scrape that began after the kill: no series with the dead pid');

			// That request's answer came after the kill: no stats for the dead worker's objects, an error for each.
			assert.equal(gate.lateAnswers.length, 1, 'one request, answered after the kill');
			const [late] = gate.lateAnswers as [GetStatsAnswer];
			assert.deepEqual(Object.keys(late.errors).sort(), allDoomed, 'every object of the dead worker failed');
			assert.deepEqual(
				allDoomed.filter((id) => id in late.stats),
				[],
				'none has stats'
			);
			// A worker died during the sweep: the failures of its objects count as errors (a failure
			// for an object that closed otherwise is churn); the steady room's objects are ok.
			const failedWithTheWorker = allDoomed.filter((id) => id in late.errors).length;
			assert.ok(failedWithTheWorker > 0, "the dead worker's objects failed in the sweep");
			for (const [m, what] of [
				[death, 'the scrape during the death'],
				[afterKill, 'the scrape that began after the kill']
			] as const) {
				assert.equal(m.value('meter_sfu_exporter_sweeps_total'), 4, `${what}: the same sweep`);
				assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'ok' }), steadyCount, what);
				assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'error' }), failedWithTheWorker, what);
				assert.equal(m.value('meter_sfu_exporter_collector_success', { collector: 'stats' }), 0, what);
				assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'timeout' }), 0, what);
				assert.deepEqual(consumerBytes(m, 'doomed'), new Map(), `${what}: no series of the dead worker's consumers`);
			}
			assertSteady(death, 'the scrape during the death');

			// After: scrapes that all began after the death, until the pool's replacement worker shows.
			let afterScrapes = 0;
			await until(
				'three scrapes after the death, the last with the replacement worker',
				async () => {
					afterScrapes++;
					await moreMedia();
					const what = `after #${afterScrapes}`;
					const m = await scrapeHttp(what);
					assert.deepEqual(samplesOf(m, doomedPid), [], `${what}: no series with the dead worker's pid`);
					assert.ok(samplesOf(m, steadyPid).length > 0, `${what}: the steady worker's series`);
					assert.equal(m.value('mediasoup_worker_deaths_total'), 1, what);
					assert.deepEqual(consumerBytes(m, 'doomed'), new Map(), what);
					assert.equal(m.value('meter_sfu_exporter_stats_objects', { result: 'error' }), 0, what);
					assertSteady(m, what);
					return afterScrapes >= 3 && m.value('mediasoup_workers') === 2;
				},
				120_000
			);
			assert.equal(s.workerPool.deaths, 1);
			assert.ok(
				steady.every((p) => !p.closed),
				'the steady room was left alone'
			);
		} finally {
			await http?.close();
			exporter?.close();
			client.close();
			await Promise.all(peers.map((p) => p.close()));
			await server.close();
		}
	}
);
