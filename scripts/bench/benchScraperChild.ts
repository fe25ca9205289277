/**
 * The bench's scraper: GET /metrics from a process of its own, as Prometheus would, so receiving
 * megabytes per scrape costs the server's process nothing. Driven over IPC by BenchScraper.
 */
import http from 'node:http';

/**
 * A scrape's wall time to its last byte and to its first (the body's headers: the sweep and the
 * build), and the exporter's count of sweeps in its body (concurrent scrapes that shared one have
 * the same).
 */
export type ScrapeTiming = { ms: number; firstByteMs: number; bytes: number; timedOut: boolean; sweeps: number };
export type ToScraper = { type: 'scrape'; id: number; url: string; count: number; accept?: string };
export type FromScraper = { type: 'scraped'; id: number; results: ScrapeTiming[] } | { type: 'failed'; id: number; message: string };

/** One GET, timed to its last byte; the body is counted and dropped but for its end. */
function scrape(url: string, accept?: string): Promise<ScrapeTiming> {
	const t0 = performance.now();
	return new Promise((resolve, reject) => {
		const request = http.get(url, { headers: accept ? { accept } : {}, agent: false }, (response) => {
			const firstByteMs = performance.now() - t0;
			let bytes = 0;
			// The exporter's own families come last: the last two chunks hold its timed-out flag and
			// its count of sweeps.
			let previous: Buffer | undefined;
			let last: Buffer | undefined;
			response.on('data', (chunk: Buffer) => {
				bytes += chunk.length;
				previous = last;
				last = chunk;
			});
			response.on('end', () => {
				const tail = Buffer.concat([previous, last].filter((b) => b !== undefined)).toString('latin1');
				if (response.statusCode !== 200) reject(new Error(`GET ${url}: ${response.statusCode}`));
				else {
					resolve({
						ms: performance.now() - t0, firstByteMs, bytes, timedOut: /^meter_sfu_exporter_scrape_timed_out 1$/m.test(tail),
						sweeps: Number(/^meter_sfu_exporter_sweeps_total (\d+)$/m.exec(tail)?.[1] ?? NaN)
					});
				}
			});
			response.on('error', reject);
		});
		request.on('error', reject);
	});
}

process.on('message', (message: ToScraper) => {
	// `count` scrapes at once (two concurrent scrapes against one).
	Promise.all(Array.from({ length: message.count }, () => scrape(message.url, message.accept))).then(
		(results) => process.send?.({ type: 'scraped', id: message.id, results } satisfies FromScraper),
		(error: Error) => process.send?.({ type: 'failed', id: message.id, message: error.message } satisfies FromScraper)
	);
});
process.on('disconnect', () => process.exit(0));
