import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromScraper, ScrapeTiming, ToScraper } from './benchScraperChild.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'benchScraperChild.ts');
const SCRAPE_TIMEOUT_MS = 120_000;

/** The bench's side of its scraper process (benchScraperChild.ts): timed GET /metrics from outside the server. */
export class BenchScraper {
	readonly #child: ChildProcess;
	readonly #url: string;
	readonly #pending = new Map<number, { resolve: (r: ScrapeTiming) => void; reject: (e: Error) => void }>();
	#nextId = 1;

	constructor(url: string) {
		this.#url = url;
		this.#child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
		this.#child.on('message', (message: FromScraper) => {
			const pending = this.#pending.get(message.id);
			if (!pending) return;
			this.#pending.delete(message.id);
			if (message.type === 'scraped') pending.resolve(message.result);
			else pending.reject(new Error(message.message));
		});
		this.#child.on('exit', (code, signal) => {
			for (const pending of this.#pending.values()) pending.reject(new Error(`scraper exited (${signal ?? code})`));
			this.#pending.clear();
		});
	}

	/** One scrape. */
	scrape(): Promise<ScrapeTiming> {
		const id = this.#nextId++;
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				reject(new Error(`no scrape answer within ${SCRAPE_TIMEOUT_MS} ms`));
			}, SCRAPE_TIMEOUT_MS);
			this.#pending.set(id, {
				resolve: (r) => {
					clearTimeout(timer);
					resolve(r);
				},
				reject: (e) => {
					clearTimeout(timer);
					reject(e);
				}
			});
			this.#child.send({ type: 'scrape', id, url: this.#url } satisfies ToScraper);
		});
	}

	close(): void {
		if (this.#child.connected) this.#child.disconnect();
	}
}
