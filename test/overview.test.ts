import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SyntheticPeer } from '../tools/synthetic/SyntheticPeer.js';
import type { OverviewSample } from '../server/exporter/http/OverviewPage.js';
import { startTestServer } from './support/signallingServer.js';
import { TestBrowser } from './support/browser.js';
import { parseExposition } from './support/exposition.js';

/**
 * The live overview page on the metrics port, against a real server with synthetic peers sending
 * RTP: overview.json agrees with /metrics, the page and its assets carry a CSP that forbids
 * anything inline, and headless Chromium shows the rooms, peers and growing charts without a
 * single console error (a CSP violation would be one). Screenshot in test-artifacts/overview.png.
 */

const artifactsDir = path.resolve('test-artifacts');

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined) return value;
		if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

async function overviewJson(base: string): Promise<OverviewSample> {
	const response = await fetch(`${base}/overview.json`);
	assert.equal(response.status, 200);
	assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
	return (await response.json()) as OverviewSample;
}

test("overview page: live numbers from the exporter's snapshot, CSP, charts in headless Chromium", async (t) => {
	const server = await startTestServer({ syntheticPeers: { enabled: true } });
	const peers: SyntheticPeer[] = [];
	let browser: TestBrowser | undefined;
	try {
		const base = server.server.exporterService!.url;
		peers.push(
			await SyntheticPeer.create({ url: server.url, roomId: 'standup', displayName: 'Ada' }),
			await SyntheticPeer.create({ url: server.url, roomId: 'standup', displayName: 'Grace' }),
			await SyntheticPeer.create({ url: server.url, roomId: 'retro', displayName: 'Edsger', video: false })
		);
		await until('media flowing both ways', async () =>
			peers[0]!.stats().received.receiving === 2 && peers[1]!.stats().received.receiving === 2 ? true : undefined
		);

		// The JSON: the same numbers the metrics show, from the same kind of snapshot.
		const sample = await until('bitrates in the snapshot', async () => {
			const s = await overviewJson(base);
			return s.bitrate.recv > 50_000 && s.bitrate.send > 50_000 ? s : undefined;
		});
		assert.equal(sample.up, true);
		assert.equal(sample.rooms, 2);
		assert.equal(sample.peers, 3);
		assert.equal(sample.producers, 5);
		assert.equal(sample.consumers, 4);
		assert.equal(sample.workers.length, 1);
		assert.ok(sample.workers[0]!.cpuSeconds > 0);
		assert.ok(Math.abs(sample.at - Date.now()) < 10_000);
		const metrics = parseExposition(await (await fetch(`${base}/metrics`)).text());
		assert.equal(metrics.value('edumeet_rooms'), sample.rooms);
		assert.equal(
			metrics.find('edumeet_peers_by_client').reduce((sum, s) => sum + s.value, 0),
			sample.peers
		);
		assert.equal(metrics.find('mediasoup_worker_cpu_seconds_total').length, 2, 'user and system of the one worker');

		// Headers: a strict CSP on the page and its assets, links from the landing page.
		for (const p of ['/overview', '/overview.js', '/overview.css']) {
			const response = await fetch(`${base}${p}`);
			assert.equal(response.status, 200, p);
			assert.match(response.headers.get('content-security-policy') ?? '', /^default-src 'self';/, p);
			assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
		}
		const html = await (await fetch(`${base}/overview`)).text();
		assert.doesNotMatch(html, /\son[a-z]+=|<script>|<style>|style=/i, 'nothing inline: no handlers, scripts or styles');
		assert.doesNotMatch(html, /https?:\/\//, 'no external assets');
		assert.match(await (await fetch(`${base}/`)).text(), /<a href="overview">/);

		browser = await TestBrowser.launch();
		const page = await browser.open(`${base}/overview`, 'overview');
		const text = async (id: string): Promise<string> => (await page.textContent(`#${id}`)) ?? '';
		const points = async (id: string): Promise<number> => Number((await page.getAttribute(`#${id}`, 'data-points')) ?? 0);
		await until('rooms and peers on the page', async () =>
			(await text('rooms-value')) === '2' && (await text('peers-value')) === '3' ? true : undefined
		);
		// Three polls: rooms/peers/bitrate have 3 points, CPU (a rate between polls) 2.
		await until('charts with history', async () =>
			(await points('peers-chart')) >= 3 && (await points('cpu-chart')) >= 2 ? true : undefined
		);
		assert.equal(await text('streams-value'), '5 / 4');
		assert.match(await text('recv-value'), /^[\d.]+ (kbit|Mbit)\/s$/);
		assert.match(await text('cpu-value'), /^[\d.]+ %$/);
		assert.match(await text('status'), /^updated /);
		for (const chart of ['rooms-chart', 'peers-chart', 'bitrate-chart', 'cpu-chart']) {
			const lines = await page.$$eval(`#${chart} polyline`, (nodes) =>
				nodes.map((n) => (n.getAttribute('points') ?? '').trim().split(/\s+/).length)
			);
			assert.ok(
				lines.length >= 1 && lines.every((n) => n >= 2),
				`${chart}: polylines with at least 2 points, got ${JSON.stringify(lines)}`
			);
		}
		assert.equal(await page.$$eval('#bitrate-chart polyline', (nodes) => nodes.length), 2, 'in and out');
		assert.equal(browser.logs(), '(no console errors)', 'no CSP violation or script error');

		fs.mkdirSync(artifactsDir, { recursive: true });
		const screenshot = path.join(artifactsDir, 'overview.png');
		await page.screenshot({ path: screenshot, fullPage: true });
		t.diagnostic(`screenshot: ${screenshot}`);
	} finally {
		await browser?.close();
		for (const peer of peers) await peer.close();
		await server.close();
	}
});
