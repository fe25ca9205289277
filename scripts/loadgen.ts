/**
 * Load generator: R rooms × P synthetic peers, each sending opus + VP8 over plain RTP and receiving
 * every other peer's streams. Progress once a second on stderr, one summary line on stdout.
 * Run through scripts/loadgen; needs a server with syntheticPeers.enabled, reached over loopback.
 */
import '../server/workerBinary.js';
import { parseArgs } from 'node:util';
import { SyntheticPeer } from '../tools/synthetic/SyntheticPeer.js';
import { RtpSink } from '../tools/synthetic/RtpSink.js';

const usage = `usage: scripts/loadgen [--url http://127.0.0.1:3000] [--rooms R] [--peers P] [--duration S]
                      [--video-kbps N] [--no-video] [--no-audio] [--sink-sockets N]
                      [--join-concurrency N] [--room-prefix NAME]
  --rooms R          rooms to fill (default 1)
  --peers P          synthetic peers per room (default 2)
  --duration S       seconds to run once every peer has joined (default 10)
  --video-kbps N     VP8 bitrate per peer (default 400)
  --no-video / --no-audio   leave a kind out
  --sink-sockets N   UDP sockets receiving consumers' RTP (default 8)
  --join-concurrency N      joins in flight at once (default 8)
  --room-prefix NAME room ids are NAME-1 … NAME-R (default loadgen)`;

type Options = {
	url: string;
	rooms: number;
	peers: number;
	duration: number;
	videoKbps: number;
	audio: boolean;
	video: boolean;
	sinkSockets: number;
	joinConcurrency: number;
	roomPrefix: string;
};

function parseOptions(): Options {
	const { values } = parseArgs({
		options: {
			url: { type: 'string', default: 'http://127.0.0.1:3000' },
			rooms: { type: 'string', default: '1' },
			peers: { type: 'string', default: '2' },
			duration: { type: 'string', default: '10' },
			'video-kbps': { type: 'string', default: '400' },
			'no-video': { type: 'boolean', default: false },
			'no-audio': { type: 'boolean', default: false },
			'sink-sockets': { type: 'string', default: '8' },
			'join-concurrency': { type: 'string', default: '8' },
			'room-prefix': { type: 'string', default: 'loadgen' },
			help: { type: 'boolean', short: 'h', default: false }
		},
		strict: true
	});
	if (values.help) {
		process.stdout.write(`${usage}\n`);
		process.exit(0);
	}
	const number = (name: string, text: string, min: number, max: number, integer = true): number => {
		const value = Number(text);
		if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
			throw new TypeError(
				`--${name}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(text)}`
			);
		}
		return value;
	};
	return {
		url: values.url,
		rooms: number('rooms', values.rooms, 1, 10_000),
		peers: number('peers', values.peers, 1, 10_000),
		duration: number('duration', values.duration, 0, 86_400, false),
		videoKbps: number('video-kbps', values['video-kbps'], 10, 20_000),
		audio: !values['no-audio'],
		video: !values['no-video'],
		sinkSockets: number('sink-sockets', values['sink-sockets'], 1, 64),
		joinConcurrency: number('join-concurrency', values['join-concurrency'], 1, 256),
		roomPrefix: values['room-prefix']
	};
}

type Totals = { sentPackets: number; sentBytes: number; recvPackets: number; recvBytes: number; expected: number; lost: number };

class LoadGenerator {
	readonly #options: Options;
	readonly #sink: RtpSink;
	readonly #peers: SyntheticPeer[] = [];
	#joinFailures = 0;
	#firstJoinError?: string;
	#stopping = false;
	#wake?: () => void;

	constructor(options: Options, sink: RtpSink) {
		this.#options = options;
		this.#sink = sink;
	}

	get stopping(): boolean {
		return this.#stopping;
	}

	get joinFailures(): number {
		return this.#joinFailures;
	}

	get firstJoinError(): string | undefined {
		return this.#firstJoinError;
	}

	stop(): void {
		this.#stopping = true;
		this.#wake?.();
	}

	/** Joins every peer, at most `joinConcurrency` at a time. */
	async joinAll(): Promise<void> {
		const { rooms, peers, joinConcurrency } = this.#options;
		const jobs: { roomId: string; index: number }[] = [];
		for (let p = 1; p <= peers; p++) {
			for (let r = 1; r <= rooms; r++) jobs.push({ roomId: `${this.#options.roomPrefix}-${r}`, index: p });
		}
		const worker = async (): Promise<void> => {
			for (let job = jobs.shift(); job && !this.#stopping; job = jobs.shift()) {
				try {
					const peer = await SyntheticPeer.create({
						url: this.#options.url,
						roomId: job.roomId,
						displayName: `${job.roomId}-peer-${job.index}`,
						audio: this.#options.audio,
						video: this.#options.video,
						videoBitrate: this.#options.videoKbps * 1000,
						sink: this.#sink
					});
					this.#peers.push(peer);
					if (this.#stopping) await peer.close();
				} catch (error) {
					this.#joinFailures++;
					this.#firstJoinError ??= (error as Error).message;
				}
			}
		};
		await Promise.all(Array.from({ length: joinConcurrency }, worker));
	}

	/** Sleeps `ms` or until stop(). */
	async sleep(ms: number): Promise<void> {
		if (this.#stopping) return;
		await new Promise<void>((resolve) => {
			const timer = setTimeout(resolve, ms);
			this.#wake = () => {
				clearTimeout(timer);
				resolve();
			};
		});
		this.#wake = undefined;
	}

	totals(): Totals {
		let sentPackets = 0;
		let sentBytes = 0;
		for (const peer of this.#peers) {
			for (const sent of Object.values(peer.stats().sent)) {
				sentPackets += sent?.packets ?? 0;
				sentBytes += sent?.bytes ?? 0;
			}
		}
		const sink = this.#sink.totals();
		return { sentPackets, sentBytes, recvPackets: sink.packets, recvBytes: sink.bytes, expected: sink.expected, lost: sink.lost };
	}

	/** One progress line: counts now, rates since `previous`. */
	progress(elapsedS: number, previous: Totals, now: Totals, intervalS: number): string {
		const live = this.#peers.filter((p) => !p.closed);
		let producers = 0;
		let consumers = 0;
		let receiving = 0;
		for (const peer of live) {
			producers += peer.producers.size;
			const { received } = peer.stats();
			consumers += received.consumers;
			receiving += received.receiving;
		}
		const kinds = Number(this.#options.audio) + Number(this.#options.video);
		const wantedConsumers = this.#options.rooms * this.#options.peers * (this.#options.peers - 1) * kinds;
		const rate = (a: number, b: number) => Math.round((b - a) / intervalS);
		return [
			`t=${elapsedS.toFixed(0)}s`,
			`peers ${live.length}/${this.#options.rooms * this.#options.peers}`,
			`producers ${producers}`,
			`consumers ${receiving}/${consumers} receiving (want ${wantedConsumers})`,
			`sent ${rate(previous.sentPackets, now.sentPackets)} pkt/s ${mbps(rate(previous.sentBytes, now.sentBytes))}`,
			`recv ${rate(previous.recvPackets, now.recvPackets)} pkt/s ${mbps(rate(previous.recvBytes, now.recvBytes))}`,
			`loss ${percent(now.lost, now.expected)}`
		].join('  ');
	}

	async closeAll(): Promise<void> {
		await Promise.all(this.#peers.map((peer) => peer.close()));
	}

	get peerCount(): number {
		return this.#peers.length;
	}
}

function mbps(bytesPerSecond: number): string {
	return `${((bytesPerSecond * 8) / 1e6).toFixed(2)} Mbit/s`;
}

function percent(part: number, whole: number): string {
	return `${whole === 0 ? '0.00' : ((100 * part) / whole).toFixed(2)}%`;
}

async function main(): Promise<number> {
	let options: Options;
	try {
		options = parseOptions();
	} catch (error) {
		process.stderr.write(`loadgen: ${(error as Error).message}\n${usage}\n`);
		return 2;
	}
	const sink = await RtpSink.create({ sockets: options.sinkSockets });
	const generator = new LoadGenerator(options, sink);
	let interrupts = 0;
	const onSignal = (signal: NodeJS.Signals): void => {
		// First signal: stop and clean up (peers leave their rooms); a second one: leave at once.
		if (interrupts++ > 0) process.exit(130);
		process.stderr.write(`loadgen: ${signal}, stopping\n`);
		generator.stop();
	};
	process.on('SIGINT', onSignal);
	process.on('SIGTERM', onSignal);

	const started = Date.now();
	let previous = generator.totals();
	let previousAt = started;
	const report = (): void => {
		const now = generator.totals();
		const at = Date.now();
		process.stderr.write(`${generator.progress((at - started) / 1000, previous, now, Math.max(0.001, (at - previousAt) / 1000))}\n`);
		previous = now;
		previousAt = at;
	};
	const ticker = setInterval(report, 1000);
	let measuredFrom: number;
	let base: ReturnType<LoadGenerator['totals']>;
	try {
		await generator.joinAll();
		if (generator.joinFailures > 0)
			process.stderr.write(`loadgen: ${generator.joinFailures} joins failed, first: ${generator.firstJoinError}\n`);
		// Measure from here: every peer is in; consumers start within a keyframe interval.
		measuredFrom = Date.now();
		base = generator.totals();
		const deadline = measuredFrom + options.duration * 1000;
		while (generator.peerCount > 0 && !generator.stopping && Date.now() < deadline)
			await generator.sleep(Math.min(1000, deadline - Date.now()));
	} finally {
		clearInterval(ticker);
	}
	const end = generator.totals();
	const seconds = Math.max(0.001, (Date.now() - measuredFrom) / 1000);
	await generator.closeAll();
	sink.close();
	const summary = [
		'loadgen summary:',
		`rooms=${options.rooms}`,
		`peers=${generator.peerCount}/${options.rooms * options.peers}`,
		`join_failures=${generator.joinFailures}`,
		`seconds=${seconds.toFixed(1)}`,
		`sent_packets=${end.sentPackets - base.sentPackets}`,
		`sent_pps=${Math.round((end.sentPackets - base.sentPackets) / seconds)}`,
		`sent_mbps=${(((end.sentBytes - base.sentBytes) * 8) / 1e6 / seconds).toFixed(2)}`,
		`recv_packets=${end.recvPackets - base.recvPackets}`,
		`recv_pps=${Math.round((end.recvPackets - base.recvPackets) / seconds)}`,
		`recv_mbps=${(((end.recvBytes - base.recvBytes) * 8) / 1e6 / seconds).toFixed(2)}`,
		`lost=${end.lost - base.lost}`,
		`loss=${percent(end.lost - base.lost, end.expected - base.expected)}`
	].join(' ');
	process.stdout.write(`${summary}\n`);
	return generator.joinFailures > 0 ? 1 : 0;
}

main().then(
	(code) => process.exit(code),
	(error: unknown) => {
		process.stderr.write(`loadgen: ${(error as Error).stack ?? String(error)}\n`);
		process.exit(1);
	}
);
