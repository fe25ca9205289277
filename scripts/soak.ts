/**
 * Churn soak: `scripts/soak [--cycles N] [--lanes K] [--json]`. Starts a server in this process
 * (one worker, synthetic peers on, ports 0, a private observer socket) and runs N join → transports
 * → produce → consume → pause/resume → leave cycles, K at a time, while scraping /metrics every
 * 100 ms. It fails (exit 1) on an exception, on a scrape started after an object closed that still
 * shows the object's id, or when objects, open handles or the heap do not return to their baseline;
 * it prints the figures either way. Run node with --expose-gc (scripts/soak does) so the heap
 * figures are taken after a full GC.
 */
import { parseArgs } from 'node:util';
import '../server/workerBinary.js';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import type { types as ms } from 'mediasoup';
import { validateConfig, webRtcServerOnAnyPort } from '../config/configSchema.js';
import { Server } from '../server/Server.js';
import { SignallingClient } from '../tools/synthetic/SignallingClient.js';
import { OpusStream } from '../tools/synthetic/OpusStream.js';
import { Vp8Stream } from '../tools/synthetic/Vp8Stream.js';
import { syntheticRtpCapabilities } from '../tools/synthetic/syntheticRtpCapabilities.js';
import type { Figures } from '../tools/soak/SoakFigures.js';

const USAGE = `usage: scripts/soak [--cycles N] [--lanes K] [--json] [--heap-snapshots DIR]
  --cycles N             join/leave cycles in all (default 5000)
  --lanes K              cycles run at once, each in a room of its own (default 4)
  --json                 print the figures as one JSON document on stdout
  --heap-snapshots DIR   write baseline.heapsnapshot and after.heapsnapshot there (for a leak hunt)`;

const SCRAPE_INTERVAL_MS = 100;
/** Cycles before the baseline is taken: the first ones compile code and fill caches. */
const WARM_UP_CYCLES = 20;
/** Heap growth (after a full GC) allowed per cycle, on top of a fixed allowance for noise. */
const HEAP_NOISE_BYTES = 3 * 1024 * 1024;
const HEAP_BYTES_PER_CYCLE = 256;
/** Label names whose values are object ids. */
const ID_LABELS = ['id', 'transport_id', 'peer_id', 'room_id'];

type Options = { cycles: number; lanes: number; json: boolean; heapSnapshots?: string };

function parseOptions(argv: string[]): Options {
	const { values } = parseArgs({
		args: argv,
		options: {
			cycles: { type: 'string', default: '5000' },
			lanes: { type: 'string', default: '4' },
			json: { type: 'boolean', default: false },
			'heap-snapshots': { type: 'string' },
			help: { type: 'boolean', short: 'h', default: false }
		},
		strict: true
	});
	if (values.help) {
		console.log(USAGE);
		process.exit(0);
	}
	const positive = (name: string, text: string): number => {
		const value = Number(text);
		if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: expected a positive integer, got ${JSON.stringify(text)}`);
		return value;
	};
	const options: Options = { cycles: positive('cycles', values.cycles), lanes: positive('lanes', values.lanes), json: values.json };
	if (values['heap-snapshots'] !== undefined) options.heapSnapshots = values['heap-snapshots'];
	if (options.cycles <= WARM_UP_CYCLES) throw new Error(`--cycles: expected more than ${WARM_UP_CYCLES} (the warm-up)`);
	return options;
}

/** The directory of package.json above this file (scripts/ under tsx, dist/scripts/ when built). */
function projectRoot(): string {
	let dir = path.dirname(fileURLToPath(import.meta.url));
	while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
	return dir;
}

async function startServer(dir: string): Promise<Server> {
	const example = (
		(await import(pathToFileURL(path.join(projectRoot(), 'config', 'config.example.js')).href)) as {
			default: Record<string, Record<string, unknown>>;
		}
	).default;
	const config = validateConfig(
		{
			...example,
			listen: { ip: '127.0.0.1', port: 0 },
			mediasoup: { ...example.mediasoup, numWorkers: 1, webRtcServer: webRtcServerOnAnyPort() },
			// Rooms close as soon as they are empty, so rooms churn as much as peers.
			room: { ...example.room, emptyRoomGraceSeconds: 0 },
			syntheticPeers: { enabled: true },
			observer: { socketPath: path.join(dir, 'observer.sock') },
			prometheus: { ...example.prometheus, listen: '127.0.0.1', port: 0, numeric: true }
		},
		'soak config'
	);
	return Server.create({ config });
}

/**
 * When each object closed (performance.now()), from mediasoup's and the rooms' own observers:
 * transports, producers, consumers, peers and rooms.
 */
function trackCloses(server: Server, closedAt: Map<string, number>): void {
	const closed = (id: string) => () => closedAt.set(id, performance.now());
	const onWorker = (worker: ms.Worker): void => {
		worker.observer.on('newrouter', (router: ms.Router) => {
			router.observer.on('newtransport', (transport: ms.Transport) => {
				transport.observer.once('close', closed(transport.id));
				transport.observer.on('newproducer', (producer: ms.Producer) => producer.observer.once('close', closed(producer.id)));
				transport.observer.on('newconsumer', (consumer: ms.Consumer) => consumer.observer.once('close', closed(consumer.id)));
			});
		});
	};
	server.workerPool.workers.forEach(onWorker);
	server.workerPool.observer.on('newworker', onWorker);
	server.meetingServer.observer.on('newroom', (room) => {
		// Room ids are the clients' names: a room that closed (empty) and is opened again is live again.
		closedAt.delete(room.id);
		room.observer.once('close', closed(room.id));
		room.observer.on('newpeer', (peer) => peer.observer.once('close', closed(peer.id)));
	});
}

/** One GET without a pooled connection (a kept-alive socket would count as an open handle). */
function get(url: string): Promise<string> {
	return new Promise((resolve, reject) => {
		const req = http.get(url, { agent: false, timeout: 10_000 }, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (chunk: string) => {
				body += chunk;
			});
			res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
			res.on('error', reject);
		});
		req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 10 s`)));
		req.on('error', reject);
	});
}

/** Label values of id labels in an exposition, with the first metric that carries each. */
function idLabelValues(body: string): Map<string, string> {
	const ids = new Map<string, string>();
	const pattern = new RegExp(`[{,](${ID_LABELS.join('|')})="([^"\\\\]*)"`, 'g');
	for (const line of body.split('\n')) {
		if (line === '' || line.startsWith('#')) continue;
		for (const [, , value] of line.matchAll(pattern)) {
			if (value && !ids.has(value!)) ids.set(value!, line.slice(0, line.indexOf('{')));
		}
	}
	return ids;
}

/** Open handles and requests by type (process.getActiveResourcesInfo()). */
function activeResources(): Record<string, number> {
	const counts: Record<string, number> = {};
	for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
	return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Heap in use after full GCs: all of it, and without compiled code, which grows as V8 optimises
 * the hot paths of a long run (a heap-snapshot diff of 2,000 cycles showed only code growing).
 */
function heapUsedAfterGc(): { all: number; data: number } {
	const gc = (globalThis as { gc?: () => void }).gc;
	if (gc) for (let i = 0; i < 3; i++) gc();
	let all = 0;
	let code = 0;
	for (const space of v8.getHeapSpaceStatistics()) {
		all += space.space_used_size;
		if (space.space_name.startsWith('code')) code += space.space_used_size;
	}
	return { all, data: all - code };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (!(await condition())) {
		if (Date.now() > deadline) return false;
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	return true;
}

/**
 * One cycle in a room of its own: Ann sends audio and video over a plain transport (with a few
 * real RTP packets, so producers have stats) and receives over WebRTC; Ben sends audio over
 * WebRTC and receives on a plain transport. Both resume what they consume, Ann pauses and
 * resumes, closes her video; then Ann leaves by request and Ben by hanging up.
 */
async function runCycle(url: string, roomId: string, rtp: dgram.Socket): Promise<void> {
	const ann = await SignallingClient.connect({ url });
	const ben = await SignallingClient.connect({ url });
	try {
		const resumeAll = (client: SignallingClient): void => {
			client.on('notification', (message) => {
				if (message.method === 'newConsumer') {
					client.request('resumeConsumer', { consumerId: message.data.consumerId }).catch(() => {
						/* it may close first */
					});
				}
			});
		};
		resumeAll(ann);
		resumeAll(ben);
		const { routerRtpCapabilities } = await ann.request('getRouterRtpCapabilities', { roomId });
		const rtpCapabilities = syntheticRtpCapabilities(routerRtpCapabilities);
		await ann.request('join', { roomId, displayName: 'Ann', rtpCapabilities });
		await ben.request('join', { roomId, displayName: 'Ben', rtpCapabilities });
		const annSend = await ann.request('createPlainTransport', { direction: 'send' });
		await ann.request('createWebRtcTransport', { direction: 'recv' });
		const benSend = await ben.request('createWebRtcTransport', { direction: 'send' });
		const benRecv = await ben.request('createPlainTransport', { direction: 'recv' });
		await ben.request('connectPlainTransport', { transportId: benRecv.id, ip: '127.0.0.1', port: rtp.address().port });
		const audio = new OpusStream();
		const video = new Vp8Stream({ bitrate: 100_000 });
		await ann.request('produce', { transportId: annSend.id, kind: 'audio', rtpParameters: audio.rtpParameters() });
		const { producerId: videoId } = await ann.request('produce', {
			transportId: annSend.id,
			kind: 'video',
			rtpParameters: video.rtpParameters()
		});
		for (let i = 0; i < 3; i++) for (const packet of audio.nextFrame()) rtp.send(packet, annSend.port, annSend.ip);
		const benAudio = new OpusStream({ payloadType: 111 });
		const { producerId: benAudioId } = await ben.request('produce', {
			transportId: benSend.id,
			kind: 'audio',
			rtpParameters: benAudio.rtpParameters()
		});
		await ann.request('pauseProducer', { producerId: videoId });
		await ann.request('resumeProducer', { producerId: videoId });
		await ben.request('pauseProducer', { producerId: benAudioId });
		await ann.request('closeProducer', { producerId: videoId });
		await ann.request('leave', {});
	} finally {
		ann.close();
		ben.close();
	}
}

async function main(): Promise<void> {
	const options = parseOptions(process.argv.slice(2));
	const errors: string[] = [];
	process.on('uncaughtException', (error) => errors.push(`uncaught: ${error.stack ?? error.message}`));
	process.on('unhandledRejection', (reason) => errors.push(`unhandled rejection: ${String((reason as Error)?.stack ?? reason)}`));

	const startHeap = heapUsedAfterGc();
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-soak-'));
	fs.chmodSync(dir, 0o700);
	const server = await startServer(dir);
	const closedAt = new Map<string, number>();
	trackCloses(server, closedAt);
	const metricsUrl = server.metricsUrl!;
	const rtpSockets: dgram.Socket[] = [];
	for (let i = 0; i < options.lanes; i++) {
		const socket = dgram.createSocket('udp4');
		// Consumers' RTP arrives here and is dropped: only the sender's side matters.
		socket.on('message', () => {});
		await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
		rtpSockets.push(socket);
	}

	const stale: Figures['staleSeries'] = [];
	const objectSeriesSeen = new Set<string>();
	let scrapes = 0;
	let scrapesInFlight = 0;
	let scrapesOverlapping = 0;
	const scrapeOnce = async (): Promise<void> => {
		const startedAt = performance.now();
		scrapesInFlight++;
		if (scrapesInFlight > 1) scrapesOverlapping++;
		try {
			const body = await get(metricsUrl);
			scrapes++;
			for (const [id, metric] of idLabelValues(body)) {
				if (metric.startsWith('mediasoup_')) objectSeriesSeen.add(id);
				const closed = closedAt.get(id);
				if (closed !== undefined && closed < startedAt && stale.length < 50)
					stale.push({ id, metric, closedMsBeforeScrapeStart: Math.round(startedAt - closed) });
			}
		} catch (error) {
			errors.push(`scrape: ${(error as Error).message}`);
		} finally {
			scrapesInFlight--;
		}
	};
	// A scrape starts every 100 ms whether or not the last one has finished, and every other tick
	// a second one follows a few ms later, while the first is under way: concurrent scrapes share
	// one snapshot in the exporter, which must still not show what closed before either began.
	const pendingScrapes = new Set<Promise<void>>();
	let scrapeTimer: NodeJS.Timeout | undefined;
	let tick = 0;
	const launch = (): void => {
		const p = scrapeOnce().finally(() => pendingScrapes.delete(p));
		pendingScrapes.add(p);
	};
	const followUps = new Set<NodeJS.Timeout>();
	const startScraping = (): void => {
		scrapeTimer = setInterval(() => {
			launch();
			if (++tick % 2 === 0) {
				const timer = setTimeout(
					() => {
						followUps.delete(timer);
						launch();
					},
					1 + ((tick * 7) % 20)
				);
				followUps.add(timer);
			}
		}, SCRAPE_INTERVAL_MS);
	};
	const stopScraping = async (): Promise<void> => {
		clearInterval(scrapeTimer);
		for (const timer of followUps) clearTimeout(timer);
		followUps.clear();
		await Promise.all(pendingScrapes);
	};
	startScraping();

	const t0 = performance.now();
	let next = 0;
	let done = 0;
	const runLanes = async (upTo: number): Promise<void> => {
		await Promise.all(
			rtpSockets.map(async (rtp) => {
				while (next < upTo && errors.length === 0) {
					const cycle = next++;
					try {
						await runCycle(server.appUrl, `soak-${cycle}`, rtp);
					} catch (error) {
						errors.push(`cycle ${cycle}: ${(error as Error).message}`);
					}
					done++;
					if (!options.json && done % 500 === 0) console.error(`soak: ${done}/${options.cycles} cycles, ${scrapes} scrapes`);
				}
			})
		);
	};
	const settle = async (): Promise<Record<string, number>> => {
		// Every object closed, every socket gone: then the counts are comparable.
		let counts: Record<string, number> = {};
		await until(async () => {
			counts = await server.objectCounts();
			return Object.values(counts).every((n) => n === 0);
		}, 15_000);
		return counts;
	};

	/**
	 * Figures with no cycle and no scrape running, the objects all closed and the tracking maps
	 * emptied (they are the soak's own memory, not the server's). Handles close asynchronously
	 * (sockets finish on later ticks): wait until the counts equal `target`, or hold still.
	 */
	const measureQuiet = async (
		name: string,
		target?: Record<string, number>
	): Promise<{ heap: { all: number; data: number }; handles: Record<string, number>; objects: Record<string, number> }> => {
		await stopScraping();
		const objects = await settle();
		closedAt.clear();
		objectSeriesSeen.clear();
		let handles = activeResources();
		let stableSince = Date.now();
		await until(() => {
			const now = activeResources();
			if (JSON.stringify(now) !== JSON.stringify(handles)) stableSince = Date.now();
			handles = now;
			return target ? JSON.stringify(now) === JSON.stringify(target) : Date.now() - stableSince >= 500;
		}, 10_000);
		const heap = heapUsedAfterGc();
		if (options.heapSnapshots) v8.writeHeapSnapshot(path.join(options.heapSnapshots, `${name}.heapsnapshot`));
		return { heap, handles, objects };
	};

	// Warm-up, then the baseline.
	await runLanes(WARM_UP_CYCLES);
	const baseline = await measureQuiet('baseline');
	startScraping();
	await runLanes(options.cycles);
	// A scrape that starts after the last close must show none of the closed ids.
	await settle();
	await stopScraping();
	await scrapeOnce();
	const closedObjects = closedAt.size;
	const seen = objectSeriesSeen.size;
	const after = await measureQuiet('after', baseline.handles);
	const durationSeconds = (performance.now() - t0) / 1000;

	const measuredCycles = options.cycles - WARM_UP_CYCLES;
	const limitBytes = HEAP_NOISE_BYTES + HEAP_BYTES_PER_CYCLE * measuredCycles;
	const growthBytes = after.heap.data - baseline.heap.data;
	const gcExposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
	const figures: Figures = {
		cycles: options.cycles,
		lanes: options.lanes,
		durationSeconds: Math.round(durationSeconds * 10) / 10,
		scrapes,
		scrapesOverlapping,
		closedObjects,
		objectSeriesSeen: seen,
		staleSeries: stale,
		errors: errors.slice(0, 20),
		objects: { baseline: baseline.objects, after: after.objects },
		heap: {
			startBytes: startHeap.all,
			baselineBytes: baseline.heap.all,
			afterBytes: after.heap.all,
			dataBaselineBytes: baseline.heap.data,
			dataAfterBytes: after.heap.data,
			dataGrowthBytes: growthBytes,
			limitBytes,
			gc: gcExposed
		},
		handles: { baseline: baseline.handles, after: after.handles },
		ok: false
	};
	const problems: string[] = [];
	if (errors.length > 0) problems.push(`${errors.length} errors`);
	if (stale.length > 0) problems.push(`${stale.length} series of closed objects in scrapes started after the close`);
	if (done !== options.cycles) problems.push(`${done} of ${options.cycles} cycles ran`);
	if (Object.values(after.objects).some((n) => n !== 0)) problems.push('objects left over');
	if (JSON.stringify(after.handles) !== JSON.stringify(baseline.handles)) problems.push('open handles differ from the baseline');
	if (!gcExposed) problems.push('no --expose-gc: heap figures are not comparable');
	else if (growthBytes > limitBytes) problems.push(`heap (without code) grew by ${growthBytes} bytes (limit ${limitBytes})`);
	figures.ok = problems.length === 0;

	for (const socket of rtpSockets) socket.close();
	await server.close();
	fs.rmSync(dir, { recursive: true, force: true });

	const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MB`;
	if (options.json) console.log(JSON.stringify(figures));
	else {
		console.log(
			`soak: ${options.cycles} cycles (${options.lanes} at a time) in ${figures.durationSeconds} s; ${scrapes} scrapes (${scrapesOverlapping} overlapping)`
		);
		console.log(
			`soak: ${closedObjects} objects closed after the warm-up, ${seen} of them seen in scrapes; stale series: ${stale.length}`
		);
		console.log(
			`soak: heap used after GC: start ${mb(startHeap.all)}, baseline ${mb(baseline.heap.all)}, after ${mb(after.heap.all)} (compiled code included)`
		);
		console.log(
			`soak: heap without code:  baseline ${mb(baseline.heap.data)}, after ${mb(after.heap.data)}, growth ${mb(growthBytes)} (limit ${mb(limitBytes)})`
		);
		console.log(`soak: open handles baseline ${JSON.stringify(baseline.handles)}`);
		console.log(`soak: open handles after    ${JSON.stringify(after.handles)}`);
		console.log(`soak: objects after ${JSON.stringify(after.objects)}`);
		for (const s of stale.slice(0, 10))
			console.log(`soak: STALE ${s.metric} shows ${s.id}, closed ${s.closedMsBeforeScrapeStart} ms before the scrape started`);
		for (const e of errors.slice(0, 10)) console.log(`soak: ERROR ${e}`);
		console.log(figures.ok ? 'soak: OK' : `soak: FAILED: ${problems.join('; ')}`);
	}
	process.exit(figures.ok ? 0 : 1);
}

main().catch((error: Error) => {
	console.error(`soak: ${error.stack ?? error.message}`);
	process.exit(2);
});
