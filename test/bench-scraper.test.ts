import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { BenchScraper } from '../tools/bench/BenchScraper.js';

/**
 * scripts/bench-scrape's scraper process (benchScraperChild.ts), which reads HTTP answers itself:
 * against a real socket server that writes each answer in the pieces a test gives, pausing
 * between them so that they arrive as separate reads.
 */

type Answer = { pieces: (string | Buffer)[] };
let nextAnswer: Answer = { pieces: [] };
/** The request line of every request the server answered, checked by the tests (never in the server's callback). */
const requestLines: string[] = [];
const server = net.createServer((socket) => {
	let request = '';
	socket.on('data', async (data) => {
		request += data.toString('latin1');
		if (!request.includes('\r\n\r\n')) return;
		requestLines.push(request.slice(0, request.indexOf('\r\n')));
		for (const piece of nextAnswer.pieces) {
			socket.write(piece);
			await new Promise((resolve) => setTimeout(resolve, 5));
		}
		socket.end();
	});
	socket.on('error', () => {});
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/metrics?x=1`;
const scraper = new BenchScraper(url);
const REQUEST_LINE = 'GET /metrics?x=1 HTTP/1.1';
/** The request lines the server got since `since` (an earlier length of requestLines). */
const requestsSince = (since: number): string[] => requestLines.slice(since);
after(() => {
	scraper.close();
	server.close();
});

const exposition = (sweeps: number, timedOut: 0 | 1, filler: number): string =>
	`${'# a family\nmediasoup_x{id="a"} 1\n'.repeat(filler)}meter_sfu_exporter_scrape_timed_out ${timedOut}\nmeter_sfu_exporter_sweeps_total ${sweeps}\n`;
const head = (status: string, length: number | null): string =>
	`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\n${length === null ? '' : `Content-Length: ${length}\r\n`}Connection: close\r\n\r\n`;

test('a body of megabytes in many reads, the headers split across two: its size, its sweep count and its flag', async () => {
	const body = Buffer.from(exposition(42, 1, 100_000));
	assert.ok(body.length > 2_000_000);
	const text = head('200 OK', body.length);
	// The header block ends in the second piece; the tail's lines straddle the last two pieces.
	nextAnswer = {
		pieces: [
			text.slice(0, 20),
			Buffer.concat([Buffer.from(text.slice(20)), body.subarray(0, 1000)]),
			body.subarray(1000, body.length - 30),
			body.subarray(body.length - 30)
		]
	};
	const before = requestLines.length;
	const result = await scraper.scrape();
	assert.deepEqual(requestsSince(before), [REQUEST_LINE], 'one GET of the URL as given');
	assert.equal(result.bytes, body.length);
	assert.equal(result.sweeps, 42);
	assert.equal(result.timedOut, true);
	assert.ok(result.firstByteMs >= 0 && result.firstByteMs <= result.ms);
});

test('scrapes one after another reuse the read buffer and each reads its own body', async () => {
	const before = requestLines.length;
	for (const sweeps of [7, 8, 9]) {
		const body = exposition(sweeps, 0, sweeps * 1000);
		nextAnswer = { pieces: [head('200 OK', Buffer.byteLength(body)) + body] };
		const result = await scraper.scrape();
		assert.deepEqual([result.bytes, result.sweeps, result.timedOut], [Buffer.byteLength(body), sweeps, false]);
	}
	assert.deepEqual(requestsSince(before), [REQUEST_LINE, REQUEST_LINE, REQUEST_LINE]);
});

test('an error status, a missing length and a body cut short are failures that say so', async () => {
	const before = requestLines.length;
	nextAnswer = { pieces: [head('500 Internal Server Error', 14) + 'scrape failed\n'] };
	await assert.rejects(scraper.scrape(), /: 500$/);
	nextAnswer = { pieces: [head('200 OK', null) + 'x 1\n'] };
	await assert.rejects(scraper.scrape(), /no Content-Length/);
	nextAnswer = { pieces: [head('200 OK', 1000) + 'x 1\n'] };
	await assert.rejects(scraper.scrape(), /closed after 4 of 1000 body bytes/);
	// And the scraper still works afterwards.
	const body = exposition(3, 0, 1);
	nextAnswer = { pieces: [head('200 OK', body.length) + body] };
	assert.equal((await scraper.scrape()).sweeps, 3);
	assert.deepEqual(requestsSince(before), Array(4).fill(REQUEST_LINE));
});
