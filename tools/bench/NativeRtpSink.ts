import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { RtpReceiveStats } from '../synthetic/RtpReceiveStats.js';
import { RtpReceiveStatsTable } from '../synthetic/RtpReceiveStatsTable.js';
import { checkedSinkOptions, type ConsumerRtpSink, type RtpSinkOptions } from '../synthetic/RtpSink.js';
import { procStat } from './procStat.js';
import { Logger } from '../../server/base/Logger.js';

const logger = new Logger('NativeRtpSink');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = path.join(HERE, 'rtp-sink.c');
const CACHE = path.join(HERE, '..', '..', '.cache', 'bench');
const START_TIMEOUT_MS = 10_000;

export class NativeRtpSinkError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'NativeRtpSinkError';
	}
}

export type NativeRtpSinkTotals = { streams: number; packets: number; bytes: number; expected: number; lost: number; rtcpPackets: number };

/**
 * The bench's RTP sink: tools/bench/rtp-sink.c (compiled on first use into .cache/bench/), which
 * receives the consumers' RTP with recvmmsg() for a small share of the CPU that node's per-datagram
 * callbacks take (see the C file). Same job and same statistics as tools/synthetic/RtpSink.ts,
 * but its counts live in the child: refresh() copies them into the RtpReceiveStats that watch()
 * handed out, so SyntheticPeer.stats() reads them as with the in-process sink.
 */
export class NativeRtpSink implements ConsumerRtpSink {
	readonly ip: string;
	readonly #child: ChildProcessByStdio<Writable, Readable, null>;
	readonly #lines: Interface;
	readonly #ports: number[];
	readonly #streams = new RtpReceiveStatsTable();
	/** Line handlers in order: the child answers commands in the order they were written. */
	readonly #readers: { line: (line: string) => boolean; fail: (error: Error) => void }[] = [];
	#lastCpuMs = 0;
	#next = 0;
	#refreshing?: Promise<NativeRtpSinkTotals>;
	#closed = false;

	static async create(options: RtpSinkOptions = {}): Promise<NativeRtpSink> {
		const { ip, sockets, recvBufferSize } = checkedSinkOptions(options);
		const binary = NativeRtpSink.build();
		const child = spawn(binary, [ip, String(sockets), String(recvBufferSize)], { stdio: ['pipe', 'pipe', 'inherit'] });
		const lines = createInterface({ input: child.stdout });
		const ports = await new Promise<number[]>((resolve, reject) => {
			const fail = (message: string): void => {
				child.kill('SIGKILL');
				reject(new NativeRtpSinkError(message));
			};
			const timer = setTimeout(() => fail(`rtp-sink did not start within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
			child.once('error', (error) => {
				clearTimeout(timer);
				fail(`rtp-sink: ${error.message}`);
			});
			child.once('exit', (code) => {
				clearTimeout(timer);
				fail(`rtp-sink exited (${code}) before it was bound`);
			});
			lines.once('line', (line) => {
				clearTimeout(timer);
				child.removeAllListeners('exit');
				const words = line.split(' ');
				const numbers = words.slice(1).map(Number);
				if (words[0] !== 'ports' || numbers.length !== sockets || !numbers.every((p) => Number.isInteger(p) && p > 0))
					fail(`rtp-sink said ${JSON.stringify(line)}`);
				else resolve(numbers);
			});
		});
		return new NativeRtpSink(ip, child, lines, ports);
	}

	/**
	 * The compiled sink, built with the machine's C compiler when missing or when the source changed
	 * (the binary's name carries the source's hash). scripts/setup installs gcc where apt is.
	 */
	static build(): string {
		const source = fs.readFileSync(SOURCE);
		const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
		const binary = path.join(CACHE, `rtp-sink-${hash}`);
		if (fs.existsSync(binary)) return binary;
		fs.mkdirSync(CACHE, { recursive: true });
		const partial = `${binary}.${process.pid}.tmp`;
		const compiled = spawnSync(process.env.CC ?? 'cc', ['-O2', '-std=c11', '-Wall', '-o', partial, SOURCE], { encoding: 'utf8' });
		if (compiled.error || compiled.status !== 0) {
			fs.rmSync(partial, { force: true });
			throw new NativeRtpSinkError(
				`compiling ${SOURCE} failed (a C compiler is needed: scripts/setup installs gcc): ${compiled.error?.message ?? compiled.stderr}`
			);
		}
		// A rename, so a concurrent bench never runs a half-written binary.
		fs.renameSync(partial, binary);
		return binary;
	}

	private constructor(ip: string, child: ChildProcessByStdio<Writable, Readable, null>, lines: Interface, ports: number[]) {
		this.ip = ip;
		this.#child = child;
		this.#lines = lines;
		this.#ports = ports;
		lines.on('line', (line) => {
			const reader = this.#readers[0];
			if (reader && reader.line(line)) this.#readers.shift();
		});
		// Writing to a sink that has just died: EPIPE here, and the exit below says why.
		child.stdin.on('error', (error) => logger.warn('rtp-sink stdin: %s', error.message));
		child.on('exit', (code, signal) => {
			const expected = this.#closed;
			this.#closed = true;
			if (!expected) logger.warn('rtp-sink exited (%s) while in use', signal ?? code);
			// A refresh waiting for an answer that will not come fails: its figures would be partial.
			const error = new NativeRtpSinkError(`rtp-sink exited (${signal ?? code}) before it answered`);
			for (const reader of this.#readers.splice(0)) reader.fail(error);
		});
	}

	/** The sink process's CPU time so far (ms); the last value read once it has exited. */
	get cpuMs(): number {
		if (this.#child.pid !== undefined && this.#child.exitCode === null && this.#child.signalCode === null) {
			try {
				this.#lastCpuMs = procStat(this.#child.pid).cpuMs;
			} catch {
				// Gone between the check and the read: keep the last value.
			}
		}
		return this.#lastCpuMs;
	}

	get closed(): boolean {
		return this.#closed;
	}

	nextAddress(): { ip: string; port: number } {
		return { ip: this.ip, port: this.#ports[this.#next++ % this.#ports.length]! };
	}

	watch(stream: { remotePort: number; ssrc: number; mimeType?: string }): RtpReceiveStats {
		return this.#streams.watch(stream);
	}

	/** Copies the child's counts into the watched streams (and any it saw unannounced); concurrent calls share one. */
	refresh(): Promise<NativeRtpSinkTotals> {
		if (this.#closed) return Promise.reject(new NativeRtpSinkError('rtp-sink is closed'));
		this.#refreshing ??= new Promise<NativeRtpSinkTotals>((resolve, reject) => {
			const totals: NativeRtpSinkTotals = { streams: 0, packets: 0, bytes: 0, expected: 0, lost: 0, rtcpPackets: 0 };
			this.#readers.push({
				fail: reject,
				line: (line) => {
					const [first, ...rest] = line.split(' ');
					if (first === 'end') {
						totals.rtcpPackets = Number(rest[0]);
						resolve(totals);
						return true;
					}
					const [port, ssrc, packets, bytes, expected, lost] = [first, ...rest].map(Number) as number[];
					this.watch({ remotePort: port!, ssrc: ssrc! }).overwrite({ packets: packets!, bytes: bytes!, expected: expected! });
					totals.streams++;
					totals.packets += packets!;
					totals.bytes += bytes!;
					totals.expected += expected!;
					totals.lost += lost!;
					return false;
				}
			});
			this.#child.stdin.write('stats\n');
		}).finally(() => {
			this.#refreshing = undefined;
		});
		return this.#refreshing;
	}

	/** Closing stdin ends the child; idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#lines.close();
		this.#child.stdin.end();
		const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2000);
		timer.unref();
		this.#child.once('exit', () => clearTimeout(timer));
	}
}
