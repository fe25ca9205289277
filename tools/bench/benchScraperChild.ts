/**
 * The bench's scraper: GET /metrics from a process of its own, as Prometheus would, so receiving
 * megabytes per scrape costs the server's process nothing. Driven over IPC by BenchScraper.
 *
 * It speaks just enough HTTP/1.1 for the exporter's answers (a status line, headers with a
 * Content-Length, the body) over a plain socket that reads into one buffer reused from scrape to
 * scrape, as Prometheus' scrape loop reuses its buffers. Node's http client allocates a fresh
 * 64 KiB buffer for every read and calls JavaScript for each: on an idle machine it took 10.8 ms
 * and 8.9 ms of CPU to receive a body of 8 MiB, this reader 5.7 ms and 3.5 ms. Prometheus runs on
 * another machine; here the scrapers share the server's cores, so what they spend is the
 * instrument's, and it is kept small.
 */
import net from 'node:net';

/**
 * A scrape's wall time to its last byte and to its first (the body's headers: the sweep and the
 * build), and the exporter's count of sweeps in its body (concurrent scrapes that shared one have
 * the same).
 */
export type ScrapeTiming = { ms: number; firstByteMs: number; bytes: number; timedOut: boolean; sweeps: number };
export type ToScraper = { type: 'scrape'; id: number; url: string };
export type FromScraper = { type: 'scraped'; id: number; result: ScrapeTiming } | { type: 'failed'; id: number; message: string };

const READ_BUFFER_BYTES = 256 * 1024;
/** The exporter's own families come last: its timed-out flag and its count of sweeps are in the last ~2.5 KB. */
const TAIL_BYTES = 16 * 1024;
const HEAD_LIMIT_BYTES = 64 * 1024;
/** Read buffers of finished scrapes; a scrape in flight has one of its own. */
const freeReadBuffers: Buffer[] = [];

/** The last TAIL_BYTES of a body, kept as it streams through the reused read buffer. */
class BodyTail {
	readonly #bytes = Buffer.allocUnsafe(TAIL_BYTES);
	#length = 0;

	push(chunk: Buffer): void {
		if (chunk.length >= TAIL_BYTES) {
			chunk.copy(this.#bytes, 0, chunk.length - TAIL_BYTES);
			this.#length = TAIL_BYTES;
			return;
		}
		const kept = Math.min(this.#length, TAIL_BYTES - chunk.length);
		this.#bytes.copyWithin(0, this.#length - kept, this.#length);
		chunk.copy(this.#bytes, kept);
		this.#length = kept + chunk.length;
	}

	text(): string {
		return this.#bytes.toString('latin1', 0, this.#length);
	}
}

/** One GET, timed to its last byte; the body is counted and dropped but for its end. */
function scrape(url: string): Promise<ScrapeTiming> {
	const target = new URL(url);
	if (target.protocol !== 'http:') return Promise.reject(new Error(`${url}: the bench scrapes plain http`));
	const t0 = performance.now();
	const readBuffer = freeReadBuffers.pop() ?? Buffer.allocUnsafe(READ_BUFFER_BYTES);
	return new Promise((resolve, reject) => {
		/** The response until its header block has ended, then undefined. */
		let head: Buffer | undefined = Buffer.alloc(0);
		let firstByteMs = -1;
		let status = 0;
		let contentLength = -1;
		let bytes = 0;
		const tail = new BodyTail();
		let settled = false;
		const finish = (error?: Error): void => {
			if (settled) return;
			settled = true;
			socket.destroy();
			freeReadBuffers.push(readBuffer);
			if (error) reject(error);
			else if (status !== 200) reject(new Error(`GET ${url}: ${status}`));
			else if (bytes !== contentLength) reject(new Error(`GET ${url}: ${bytes} of ${contentLength} bytes`));
			else {
				const text = tail.text();
				resolve({
					ms: performance.now() - t0,
					firstByteMs,
					bytes,
					timedOut: /^meter_sfu_exporter_scrape_timed_out 1$/m.test(text),
					sweeps: Number(/^meter_sfu_exporter_sweeps_total (\d+)$/m.exec(text)?.[1] ?? NaN)
				});
			}
		};
		const onBody = (chunk: Buffer): void => {
			bytes += chunk.length;
			tail.push(chunk);
			if (bytes >= contentLength) finish();
		};
		const onHead = (chunk: Buffer): void => {
			// `chunk` is the reused read buffer: kept across reads only as a copy, read in place otherwise.
			const whole = head!.length === 0 ? chunk : Buffer.concat([head!, chunk]);
			const end = whole.indexOf('\r\n\r\n');
			if (end < 0) {
				if (whole.length > HEAD_LIMIT_BYTES) finish(new Error(`GET ${url}: no end of headers in ${whole.length} bytes`));
				else head = whole === chunk ? Buffer.from(chunk) : whole;
				return;
			}
			const lines = whole.toString('latin1', 0, end).split('\r\n');
			status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
			const length = lines.find((line) => /^content-length:/i.test(line));
			if (!length) return finish(new Error(`GET ${url}: ${status}, no Content-Length (the exporter always sends one)`));
			contentLength = Number(length.slice(length.indexOf(':') + 1).trim());
			head = undefined;
			onBody(whole.subarray(end + 4));
		};
		const socket = net.connect({
			host: target.hostname,
			port: Number(target.port || 80),
			onread: {
				buffer: readBuffer,
				callback: (length: number, buffer: Uint8Array): boolean => {
					if (firstByteMs < 0) firstByteMs = performance.now() - t0;
					const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, length);
					if (head === undefined) onBody(chunk);
					else onHead(chunk);
					return true;
				}
			}
		});
		socket.on('connect', () =>
			socket.write(`GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nConnection: close\r\n\r\n`)
		);
		socket.on('error', finish);
		socket.on('close', () => finish(new Error(`GET ${url}: connection closed after ${bytes} of ${contentLength} body bytes`)));
	});
}

process.on('message', (message: ToScraper) => {
	scrape(message.url).then(
		(result) => process.send?.({ type: 'scraped', id: message.id, result } satisfies FromScraper),
		(error: Error) => process.send?.({ type: 'failed', id: message.id, message: error.message } satisfies FromScraper)
	);
});
process.on('disconnect', () => process.exit(0));
