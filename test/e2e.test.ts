// End to end: a real server in-process, three real Chromium tabs with fake camera and microphone
// joining one room through the app's autojoin URL.
import '../server/workerBinary.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { validateConfig, webRtcServerOnAnyPort, type Config } from '../config/configSchema.js';
import { Server } from '../server/Server.js';
import { appDistDir } from '../server/http/AppHttpServer.js';
import { TestBrowser } from './support/browser.js';
import { parseExposition } from './support/exposition.js';

/** What the app's `window.meeting.getStats()` answers (app/MeetingTestHook.ts). */
type MeetingTestStats = {
	state: string;
	peerId: string | null;
	signalling: string;
	sendTransport: string;
	recvTransport: string;
	peers: { peerId: string; displayName: string }[];
	inboundVideo: {
		peerId: string;
		displayName: string;
		framesDecoded: number;
		bytesReceived: number;
		frameWidth: number;
		frameHeight: number;
	}[];
};

const projectRoot = path.resolve(appDistDir(), '..', '..');
const artifactsDir = path.join(projectRoot, 'test-artifacts');

async function e2eConfig(socketPath: string, numWorkers: number): Promise<Config> {
	const example = pathToFileURL(path.join(projectRoot, 'config', 'config.example.js')).href;
	const base = ((await import(example)) as { default: Record<string, Record<string, unknown>> }).default;
	return validateConfig(
		{
			...base,
			listen: { ip: '127.0.0.1', port: 0 },
			// Each worker's WebRtcServer on free ports (tests run side by side).
			mediasoup: { ...base.mediasoup, numWorkers, webRtcServer: webRtcServerOnAnyPort() },
			observer: { socketPath },
			prometheus: { ...base.prometheus, port: 0 }
		},
		'config.example.js with e2e overrides'
	);
}

function stats(page: Page): Promise<MeetingTestStats> {
	return page.evaluate(() => {
		const hook = (window as unknown as { meeting?: { getStats(): Promise<unknown> } }).meeting;
		if (!hook) throw new Error('the app did not install window.meeting');
		return hook.getStats();
	}) as Promise<MeetingTestStats>;
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
async function waitFor<T>(
	what: string,
	timeoutMs: number,
	check: () => Promise<T | undefined>,
	explain: () => Promise<string>
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value !== undefined) return value;
		if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs / 1000} s waiting until ${what}\n${await explain()}`);
		await new Promise((resolve) => setTimeout(resolve, 500));
	}
}

type Meeting = {
	server: Server;
	pages: Page[];
	allStats(): Promise<MeetingTestStats[]>;
	/** Every tab's stats and the browser's console errors, for timeout messages. */
	explain(): Promise<string>;
};

/**
 * Starts a real server (`numWorkers` workers) and one tab per name joining one room through the
 * autojoin URL, runs `body`, and tears browser, server and temp dir down whatever happens.
 */
async function withMeeting(names: string[], numWorkers: number, body: (meeting: Meeting) => Promise<void>): Promise<void> {
	const indexHtml = path.join(appDistDir(), 'index.html');
	assert.ok(fs.existsSync(indexHtml), `${indexHtml} is missing: build the app first (npm run build; scripts/setup does it)`);
	const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-e2e-'));
	fs.chmodSync(tmpDir, 0o700);
	let server: Server | undefined;
	let browser: TestBrowser | undefined;
	try {
		server = await Server.create({ config: await e2eConfig(path.join(tmpDir, 'observer.sock'), numWorkers) });
		browser = await TestBrowser.launch();
		const room = `e2e-${process.pid}`;
		const pages: Page[] = [];
		for (const name of names) {
			pages.push(await browser.open(`${server.appUrl}/?room=${room}&name=${encodeURIComponent(name)}&autojoin=1`, name));
		}
		const allStats = (): Promise<MeetingTestStats[]> => Promise.all(pages.map(stats));
		const logs = browser.logs.bind(browser);
		const explain = async (): Promise<string> =>
			`${JSON.stringify(await allStats().catch((error: unknown) => String(error)), null, 1)}\n${logs()}`;
		await body({ server, pages, allStats, explain });
	} finally {
		await browser?.close();
		await server?.close();
		fs.rmSync(tmpDir, { recursive: true, force: true });
	}
}

test(
	'three browsers meet: each decodes the other two, names and the active speaker show, a leaver disappears',
	{ timeout: 240_000 },
	async (t) => {
		const started = Date.now();
		const names = ['Ada', 'Grace', 'Linus'];
		// Two workers: the room is on one, and the other's WebRtcServer must not see its media.
		await withMeeting(names, 2, async ({ server, pages, allStats, explain }) => {
			// Every tab decodes video from both others.
			const decoded = await waitFor(
				'every tab decodes video from the two others',
				90_000,
				async () => {
					const all = await allStats();
					const ready = all.every(
						(s) => s.state === 'joined' && s.inboundVideo.length === 2 && s.inboundVideo.every((v) => v.framesDecoded >= 5)
					);
					return ready ? all : undefined;
				},
				explain
			);
			const decodeSeconds = (Date.now() - started) / 1000;
			for (const [i, s] of decoded.entries()) {
				assert.equal(s.signalling, 'connected');
				assert.equal(s.sendTransport, 'connected');
				assert.equal(s.recvTransport, 'connected');
				const others = names.filter((_, j) => j !== i).sort();
				assert.deepEqual(s.inboundVideo.map((v) => v.displayName).sort(), others);
				t.diagnostic(
					`${names[i]} decodes ${s.inboundVideo
						.map(
							(v) => `${v.displayName}: ${v.framesDecoded} frames ` + `${v.frameWidth}x${v.frameHeight}, ${v.bytesReceived} B`
						)
						.join('; ')}`
				);
			}
			t.diagnostic(`all tabs decoding after ${decodeSeconds.toFixed(1)} s`);

			// All six WebRTC transports go through their worker's WebRtcServer: one local port, that
			// server's, which the other worker's does not share.
			const m = parseExposition(await (await fetch(server.metricsUrl!)).text());
			const portOf = (address: string): string => address.slice(address.lastIndexOf(':') + 1);
			const transports = m.find('mediasoup_transport_received_bytes', { transport_type: 'webrtc' });
			assert.equal(transports.length, 6, 'a send and a recv transport per tab');
			const localPorts = new Set(transports.map((s) => portOf(s.labels.local_addr!)));
			const pids = new Set(transports.map((s) => s.labels.pid!));
			assert.equal(localPorts.size, 1, `one local port for the room's transports: ${[...localPorts].join(', ')}`);
			assert.equal(pids.size, 1, 'the room is on one worker');
			const [pid] = pids;
			const [port] = localPorts;
			const listenPorts = (which: string): string[] =>
				m.find('mediasoup_webrtc_server_listen_info', { pid: which }).map((s) => portOf(s.labels.local_addr!));
			assert.ok(
				listenPorts(pid!).includes(port!),
				`port ${port} is one of worker ${pid}'s WebRtcServer ports ${listenPorts(pid!).join(', ')}`
			);
			const otherPid = server.workerPool.workers.map((w) => String(w.pid)).find((p) => p !== pid)!;
			assert.equal(listenPorts(otherPid).length, 2, 'the other worker listens too, UDP and TCP');
			assert.ok(!listenPorts(otherPid).includes(port!), 'on ports of its own');
			assert.equal(m.value('mediasoup_webrtc_server_transports', { pid: pid! }), 6);
			assert.equal(m.value('mediasoup_webrtc_server_transports', { pid: otherPid }), 0);
			t.diagnostic(`the room's six WebRTC transports all on local port ${port} (worker ${pid})`);

			// The names are on screen: own tile marked "(you)", one tile per other participant.
			for (const [i, page] of pages.entries()) {
				assert.equal(await page.locator('.tile.local .name').textContent(), `${names[i]} (you)`);
				const remoteNames = await page.locator('.tile:not(.local) .name').allTextContents();
				assert.deepEqual(remoteNames.sort(), names.filter((_, j) => j !== i).sort());
			}

			// The fake microphones beep: the server names an active speaker and the app highlights it.
			await waitFor(
				'a tab highlights the active speaker',
				30_000,
				async () => {
					const counts = await Promise.all(pages.map((page) => page.locator('.tile.speaking').count()));
					return counts.some((n) => n > 0) ? true : undefined;
				},
				explain
			);

			// The remote videos are playing (not just decoded) before the screenshot.
			await waitFor(
				'the first tab plays both remote videos',
				30_000,
				async () => {
					const playing = await pages[0]!.evaluate(
						() =>
							[...document.querySelectorAll<HTMLVideoElement>('.tile:not(.local) video')].filter(
								(video) => video.readyState >= 2 && video.videoWidth > 0
							).length
					);
					return playing === 2 ? true : undefined;
				},
				explain
			);
			fs.mkdirSync(artifactsDir, { recursive: true });
			const screenshot = path.join(artifactsDir, 'e2e-meeting.png');
			await pages[0]!.screenshot({ path: screenshot });
			t.diagnostic(`screenshot: ${screenshot}`);

			// Grace turns camera and microphone off: the others mark her tile; back on, her video flows again.
			const grace = decoded[1]!.peerId;
			assert.ok(grace);
			const graceTile = pages[0]!.locator(`.tile[data-peer-id="${grace}"]`);
			await pages[1]!.click('#toggle-cam');
			await pages[1]!.click('#toggle-mic');
			await waitFor(
				'the first tab shows Grace with camera and mic off',
				30_000,
				async () => {
					const classes = (await graceTile.getAttribute('class')) ?? '';
					return /\bcam-paused\b/.test(classes) && /\bmic-paused\b/.test(classes) ? true : undefined;
				},
				explain
			);
			assert.equal(await pages[1]!.locator('#toggle-cam').getAttribute('aria-pressed'), 'true');
			const framesWhileOff = (await stats(pages[0]!)).inboundVideo.find((v) => v.peerId === grace)!.framesDecoded;
			await pages[1]!.click('#toggle-cam');
			await pages[1]!.click('#toggle-mic');
			await waitFor(
				'the first tab decodes Grace again with her badges gone',
				30_000,
				async () => {
					const classes = (await graceTile.getAttribute('class')) ?? '';
					const frames = (await stats(pages[0]!)).inboundVideo.find((v) => v.peerId === grace)!.framesDecoded;
					return !/paused/.test(classes) && frames > framesWhileOff + 5 ? true : undefined;
				},
				explain
			);

			// Linus leaves; the others lose his tile and his video.
			const leaver = decoded[2]!.peerId;
			assert.ok(leaver);
			await pages[2]!.click('#leave');
			await waitFor(
				'the two others no longer show the leaver',
				30_000,
				async () => {
					const remaining = await Promise.all(
						pages.slice(0, 2).map(async (page) => ({
							s: await stats(page),
							tiles: await page.locator(`.tile[data-peer-id="${leaver}"]`).count()
						}))
					);
					return remaining.every(
						({ s, tiles }) =>
							tiles === 0 &&
							!s.peers.some((p) => p.peerId === leaver) &&
							s.inboundVideo.length === 1 &&
							s.inboundVideo[0]!.peerId !== leaver
					)
						? true
						: undefined;
				},
				explain
			);
			assert.equal((await stats(pages[2]!)).state, 'left');
			assert.equal(await pages[2]!.locator('#join-form').isVisible(), true);
		});
		t.diagnostic(`test ran ${((Date.now() - started) / 1000).toFixed(1)} s`);
	}
);

test('when the worker dies, the tabs rejoin on its replacement and see each other again', { timeout: 240_000 }, async (t) => {
	const started = Date.now();
	await withMeeting(['Ada', 'Grace'], 1, async ({ server, pages, allStats, explain }) => {
		const decodesTheOther = (all: MeetingTestStats[]): boolean =>
			all.every(
				(s, i) =>
					s.state === 'joined' &&
					s.inboundVideo.length === 1 &&
					s.inboundVideo[0]!.peerId === all[1 - i]!.peerId &&
					s.inboundVideo[0]!.framesDecoded >= 5
			);
		const before = await waitFor(
			'both tabs decode each other',
			90_000,
			async () => {
				const all = await allStats();
				return decodesTheOther(all) ? all : undefined;
			},
			explain
		);
		const [worker] = server.workerPool.workers;
		assert.ok(worker);
		process.kill(worker.pid, 'SIGKILL');

		// roomClosed → each tab tears down and joins again as a new peer on the new worker.
		const after = await waitFor(
			'both tabs rejoined and decode each other again',
			60_000,
			async () => {
				const all = await allStats();
				return decodesTheOther(all) && all.every((s, i) => s.peerId !== before[i]!.peerId) ? all : undefined;
			},
			explain
		);
		assert.equal(server.workerPool.deaths, 1);
		assert.notEqual(server.workerPool.workers[0]?.pid, worker.pid);
		for (const [i, page] of pages.entries()) {
			assert.equal(await page.locator('.tile:not(.local)').count(), 1);
			assert.equal(await page.locator('#meeting').isVisible(), true);
			t.diagnostic(`tab ${i} rejoined as ${after[i]!.peerId}, decoding ${after[i]!.inboundVideo[0]!.framesDecoded} frames`);
		}

		// Leave, then join again through the form (kept filled in): a third join, same room.
		await pages[1]!.click('#leave');
		await waitFor(
			'the second tab has left',
			30_000,
			async () => ((await stats(pages[1]!)).state === 'left' ? true : undefined),
			explain
		);
		assert.equal(await pages[1]!.inputValue('#room'), `e2e-${process.pid}`);
		assert.equal(await pages[1]!.inputValue('#name'), 'Grace');
		await pages[1]!.click('#join');
		await waitFor(
			'the form join decodes the other tab again',
			60_000,
			async () => {
				const all = await allStats();
				return decodesTheOther(all) && all[1]!.peerId !== after[1]!.peerId ? true : undefined;
			},
			explain
		);
	});
	t.diagnostic(`test ran ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test('a name past the server limit in the autojoin URL is clamped, so the meeting starts', { timeout: 180_000 }, async (t) => {
	// 300 characters (code points) and 450 UTF-16 units: cutting at 64 units would split the 22nd
	// emoji's surrogate pair, so only a cut by code points gives `clamped`.
	const longName = '🙂a'.repeat(150);
	const clamped = '🙂a'.repeat(32); // 64 code points, config.example.js room.maxDisplayNameLength
	await withMeeting([longName, 'Ada'], 1, async ({ pages, allStats, explain }) => {
		const [longTab, otherTab] = pages as [Page, Page];
		// A refused join shows its error at once: fail with it rather than time out.
		const joined = await waitFor(
			'both tabs joined and show each other',
			60_000,
			async () => {
				for (const page of pages) {
					if (await page.locator('#error').isVisible())
						assert.fail(`a tab shows: ${await page.locator('#error-text').textContent()}`);
				}
				const all = await allStats();
				const tiles = await Promise.all(pages.map((page) => page.locator('.tile:not(.local)').count()));
				return all.every((s, i) => s.state === 'joined' && s.peers.length === 1 && tiles[i] === 1) ? all : undefined;
			},
			explain
		);
		const longPeerId = joined[0]!.peerId;
		assert.ok(longPeerId);
		assert.deepEqual(joined[1]!.peers, [{ peerId: longPeerId, displayName: clamped }]);
		assert.equal(await otherTab.locator(`.tile[data-peer-id="${longPeerId}"] .name`).textContent(), clamped);
		assert.equal(await longTab.locator('.tile.local .name').textContent(), `${clamped} (you)`);
		// The form and the shareable URL carry the clamped name too; typing stops at the limit.
		assert.equal(await longTab.inputValue('#name'), clamped);
		assert.equal(new URL(longTab.url()).searchParams.get('name'), clamped);
		assert.equal(await longTab.getAttribute('#name', 'maxlength'), '64');
		t.diagnostic(`a ${[...longName].length}-character name joined as ${[...clamped].length} characters`);
	});
});
