import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium (scripts/setup installs it); CHROMIUM_PATH selects another build. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// See /work/shared/PLATFORM.md. Fake camera (a moving test pattern) and microphone (a beep) with
// permission prompts auto-accepted; no background throttling, so every tab keeps decoding.
const chromiumArgs = [
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--use-fake-device-for-media-stream',
	'--use-fake-ui-for-media-stream',
	'--autoplay-policy=no-user-gesture-required',
	'--disable-background-timer-throttling',
	'--disable-renderer-backgrounding',
	'--disable-backgrounding-occluded-windows'
];

/**
 * A headless Chromium with its own throw-away profile. Pages share one browser process (cheaper
 * on 2 cores than a browser per participant) and each page's console errors are kept for
 * failure messages. `close()` closes the browser and deletes the profile.
 */
export class TestBrowser {
	readonly #context: BrowserContext;
	readonly #profileDir: string;
	readonly #logs: string[] = [];
	#closed = false;

	static async launch(): Promise<TestBrowser> {
		if (!fs.existsSync(chromiumPath)) {
			throw new Error(`no Chromium at ${chromiumPath}: run scripts/setup (installs Debian's chromium) or set CHROMIUM_PATH`);
		}
		const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-chromium-'));
		try {
			const context = await chromium.launchPersistentContext(profileDir, {
				executablePath: chromiumPath,
				headless: true,
				args: chromiumArgs,
				permissions: ['camera', 'microphone'],
				viewport: { width: 1280, height: 720 }
			});
			return new TestBrowser(context, profileDir);
		} catch (error) {
			fs.rmSync(profileDir, { recursive: true, force: true });
			throw error;
		}
	}

	private constructor(context: BrowserContext, profileDir: string) {
		this.#context = context;
		this.#profileDir = profileDir;
	}

	/** Opens `url` in a new tab; `label` prefixes that tab's log lines. */
	async open(url: string, label: string): Promise<Page> {
		const page = await this.#context.newPage();
		page.on('console', (message) => {
			if (message.type() === 'error' || message.type() === 'warning')
				this.#logs.push(`[${label}] ${message.type()}: ${message.text()}`);
		});
		page.on('pageerror', (error) => this.#logs.push(`[${label}] page error: ${error.message}`));
		await page.goto(url);
		return page;
	}

	/** Console errors and warnings of all tabs so far, for assertion messages. */
	logs(): string {
		return this.#logs.join('\n') || '(no console errors)';
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		try {
			await this.#context.close();
		} finally {
			fs.rmSync(this.#profileDir, { recursive: true, force: true });
		}
	}
}
