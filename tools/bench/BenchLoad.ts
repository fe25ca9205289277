import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RoomPlan } from './BenchTopology.js';
import type { FromLoad, LoadTotals, SinkKind, ToLoad } from './benchLoadMessages.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'benchLoadChild.ts');

export class BenchLoadError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'BenchLoadError';
	}
}

/**
 * The bench's side of its load process (benchLoadChild.ts): synthetic peers that send real RTP to
 * the server under test and a sink that counts what the server forwards, in their own process.
 */
export class BenchLoad {
	readonly #child: ChildProcess;
	readonly #waiters: { type: FromLoad['type']; resolve: (m: FromLoad) => void; reject: (e: Error) => void }[] = [];
	#exited = false;

	static start(): BenchLoad {
		return new BenchLoad(fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
	}

	private constructor(child: ChildProcess) {
		this.#child = child;
		child.on('message', (message: FromLoad) => {
			if (message.type === 'error') {
				for (const waiter of this.#waiters.splice(0)) waiter.reject(new BenchLoadError(message.message));
				return;
			}
			const index = this.#waiters.findIndex((w) => w.type === message.type);
			if (index >= 0) this.#waiters.splice(index, 1)[0]!.resolve(message);
		});
		child.on('exit', (code, signal) => {
			this.#exited = true;
			for (const waiter of this.#waiters.splice(0)) waiter.reject(new BenchLoadError(`load process exited (${signal ?? code})`));
		});
	}

	get pid(): number | undefined {
		return this.#child.pid;
	}

	async join(options: {
		url: string;
		rooms: RoomPlan[];
		videoKbps: number;
		joinConcurrency: number;
		sinkSockets: number;
		sink: SinkKind;
	}): Promise<{ peers: number; failures: number; firstError?: string }> {
		const answer = await this.#ask({ type: 'join', ...options }, 'joined', 600_000);
		return answer as Extract<FromLoad, { type: 'joined' }>;
	}

	async totals(): Promise<LoadTotals> {
		return ((await this.#ask({ type: 'totals' }, 'totals', 30_000)) as Extract<FromLoad, { type: 'totals' }>).totals;
	}

	/** Peers leave, the sink closes, the process ends (killed if it does not within 20 s). */
	async close(): Promise<void> {
		if (this.#exited) return;
		const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
		const timer = setTimeout(() => this.#child.kill('SIGKILL'), 20_000);
		try {
			await this.#ask({ type: 'close' }, 'closed', 20_000).catch(() => undefined);
			await exited;
		} finally {
			clearTimeout(timer);
		}
	}

	#ask(message: ToLoad, answer: FromLoad['type'], timeoutMs: number): Promise<FromLoad> {
		if (this.#exited) return Promise.reject(new BenchLoadError('load process is gone'));
		return new Promise((resolve, reject) => {
			const waiter = {
				type: answer,
				resolve: (m: FromLoad) => {
					clearTimeout(timer);
					resolve(m);
				},
				reject: (e: Error) => {
					clearTimeout(timer);
					reject(e);
				}
			};
			const timer = setTimeout(() => {
				const index = this.#waiters.indexOf(waiter);
				if (index >= 0) this.#waiters.splice(index, 1);
				reject(new BenchLoadError(`no ${answer} from the load process within ${timeoutMs} ms`));
			}, timeoutMs);
			this.#waiters.push(waiter);
			this.#child.send(message);
		});
	}
}
