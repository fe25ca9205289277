import type { ObservedState } from '../../server/observer/ObservedState.js';
import type { ObserverStreamClient } from '../../server/stream/ObserverStreamClient.js';
import { ConsoleTable, formatBytes, formatDuration, flatten } from './ConsoleTable.js';
import { NotFoundError, UsageError } from '../../server/base/errors.js';

/** What a command produced: `json` for --json, `text` for people. */
export type CommandOutput = { json: unknown; text: string; quit?: boolean };

type Command = { usage: string; summary: string; run: (args: string[]) => Promise<CommandOutput> };

const DUMP_ENTITIES = ['worker', 'webRtcServer', 'router', 'transport', 'producer', 'consumer'] as const;
const STATS_ENTITIES = ['transport', 'producer', 'consumer'] as const;
const NAME_WIDTH = 24;
const ID_WIDTH = 36;

type Counts = { rooms: number; peers: number; transports: number; producers: number; consumers: number };

/**
 * The operator console's commands over an ObserverStreamClient: listings come from the client's
 * mirror of the state, stats/dump/usage/loglevel are protocol requests.
 */
export class ObserverConsole {
	readonly #client: ObserverStreamClient;
	readonly #commands: Record<string, Command>;

	constructor({ client }: { client: ObserverStreamClient }) {
		this.#client = client;
		this.#commands = {
			stats: {
				usage: 'stats [transport|producer|consumer ID]',
				summary: 'object counts, totals and per worker; or getStats() of one object',
				run: (args) => (args.length === 0 ? this.#totals() : this.#objectStats(args))
			},
			rooms: { usage: 'rooms', summary: 'rooms with their worker, peers and media', run: (args) => this.#rooms(args) },
			peers: {
				usage: 'peers [ROOM]',
				summary: 'peers (of one room) with their transports and media',
				run: (args) => this.#peers(args)
			},
			dump: {
				usage: 'dump worker|webRtcServer|router|transport|producer|consumer ID',
				summary: 'mediasoup dump() of one object',
				run: (args) => this.#dump(args)
			},
			usage: { usage: 'usage', summary: 'CPU and memory of the server process and each worker', run: (args) => this.#usage(args) },
			loglevel: {
				usage: 'loglevel [NAMESPACES]',
				summary: 'show or set the server\'s debug namespaces (e.g. "meter-sfu*")',
				run: (args) => this.#logLevel(args)
			},
			help: { usage: 'help', summary: 'this list', run: async () => this.#help() },
			quit: { usage: 'quit', summary: 'leave the console', run: async () => ({ json: { quit: true }, text: '', quit: true }) }
		};
	}

	async run(argv: string[]): Promise<CommandOutput> {
		const [name, ...args] = argv;
		if (name === undefined) return this.#help();
		const command = Object.prototype.hasOwnProperty.call(this.#commands, name)
			? this.#commands[name]
			: name === 'exit'
				? this.#commands.quit
				: undefined;
		if (!command) throw new UsageError(`unknown command ${JSON.stringify(ConsoleTable.cell(name))}; try "help"`);
		return command.run(args);
	}

	get #state(): Readonly<ObservedState> {
		return this.#client.state;
	}

	#help(): CommandOutput {
		const table = new ConsoleTable([
			{ header: 'COMMAND', maxWidth: 60 },
			{ header: 'WHAT', maxWidth: 80 }
		]);
		for (const command of Object.values(this.#commands)) table.add([command.usage, command.summary]);
		return {
			json: Object.values(this.#commands).map(({ usage, summary }) => ({ usage, summary })),
			text: table.toString()
		};
	}

	/** Counts per room and per worker, from the mirror. */
	#count(): {
		total: Counts & { workers: number; routers: number };
		byWorker: Map<number, Counts & { routers: number }>;
		byRoom: Map<string, Omit<Counts, 'rooms'>>;
		byPeer: Map<string, Omit<Counts, 'rooms' | 'peers'>>;
	} {
		const s = this.#state;
		const zero = (): Counts & { routers: number } => ({ routers: 0, rooms: 0, peers: 0, transports: 0, producers: 0, consumers: 0 });
		const byWorker = new Map<number, Counts & { routers: number }>();
		for (const worker of Object.values(s.workers)) byWorker.set(worker.pid, zero());
		const workerOfRouter = (routerId: string): (Counts & { routers: number }) | undefined => {
			const pid = s.routers[routerId]?.workerPid;
			return pid === undefined ? undefined : byWorker.get(pid);
		};
		const byRoom = new Map<string, Omit<Counts, 'rooms'>>();
		for (const room of Object.values(s.rooms)) {
			byRoom.set(room.id, { peers: 0, transports: 0, producers: 0, consumers: 0 });
			const worker = byWorker.get(room.workerPid);
			if (worker) worker.rooms++;
		}
		const byPeer = new Map<string, Omit<Counts, 'rooms' | 'peers'>>();
		for (const peer of Object.values(s.peers)) {
			byPeer.set(peer.id, { transports: 0, producers: 0, consumers: 0 });
			const room = byRoom.get(peer.roomId);
			if (room) room.peers++;
			const worker = s.rooms[peer.roomId] ? byWorker.get(s.rooms[peer.roomId]!.workerPid) : undefined;
			if (worker) worker.peers++;
		}
		for (const router of Object.values(s.routers)) {
			const worker = byWorker.get(router.workerPid);
			if (worker) worker.routers++;
		}
		for (const kind of ['transports', 'producers', 'consumers'] as const) {
			for (const record of Object.values(s[kind])) {
				const worker = workerOfRouter(record.routerId);
				if (worker) worker[kind]++;
				const room = record.roomId ? byRoom.get(record.roomId) : undefined;
				if (room) room[kind]++;
				const peer = record.peerId ? byPeer.get(record.peerId) : undefined;
				if (peer) peer[kind]++;
			}
		}
		const total = {
			workers: Object.keys(s.workers).length,
			routers: Object.keys(s.routers).length,
			rooms: Object.keys(s.rooms).length,
			peers: Object.keys(s.peers).length,
			transports: Object.keys(s.transports).length,
			producers: Object.keys(s.producers).length,
			consumers: Object.keys(s.consumers).length
		};
		return { total, byWorker, byRoom, byPeer };
	}

	async #totals(): Promise<CommandOutput> {
		const { total, byWorker } = this.#count();
		// Where each worker's WebRtcServer takes browser media ("udp:40000"), the ports a firewall opens.
		const mediaPorts = new Map<number, string[]>();
		for (const server of Object.values(this.#state.webRtcServers ?? {})) {
			mediaPorts.set(
				server.workerPid,
				server.listenInfos.map((l) => `${l.protocol}:${l.port}`)
			);
		}
		const workers = [...byWorker].map(([pid, counts]) => ({ pid, ...counts, mediaPorts: mediaPorts.get(pid) ?? [] }));
		const table = new ConsoleTable([
			{ header: 'WORKER' },
			{ header: 'ROUTERS', align: 'right' },
			{ header: 'ROOMS', align: 'right' },
			{ header: 'PEERS', align: 'right' },
			{ header: 'TRANSPORTS', align: 'right' },
			{ header: 'PRODUCERS', align: 'right' },
			{ header: 'CONSUMERS', align: 'right' },
			{ header: 'MEDIA PORTS' }
		]);
		for (const w of workers)
			table.add([w.pid, w.routers, w.rooms, w.peers, w.transports, w.producers, w.consumers, w.mediaPorts.join(' ')]);
		table.add(['total', total.routers, total.rooms, total.peers, total.transports, total.producers, total.consumers, '']);
		return { json: { total, workers }, text: table.toString() };
	}

	async #objectStats(args: string[]): Promise<CommandOutput> {
		const [entity, id, ...rest] = args;
		if (!entity || !(STATS_ENTITIES as readonly string[]).includes(entity) || !id || rest.length > 0) {
			throw new UsageError(`usage: ${this.#commands.stats!.usage}`);
		}
		const kind = entity as (typeof STATS_ENTITIES)[number];
		if (!this.#state[`${kind}s`][id]) throw new NotFoundError(`no ${kind} with id ${JSON.stringify(ConsoleTable.cell(id))}`);
		const { stats, errors, timedOut } = await this.#client.request('getStats', { ids: [id] });
		if (timedOut.length > 0) throw new NotFoundError(`${kind} ${id}: getStats() timed out`);
		if (errors[id] !== undefined) throw new NotFoundError(`${kind} ${id}: ${errors[id]}`);
		const entries = stats[id] ?? [];
		const text = entries
			.map((entry, i) => {
				const table = new ConsoleTable([
					{ header: entries.length > 1 ? `STAT ${i + 1}` : 'STAT', maxWidth: 48 },
					{ header: 'VALUE', maxWidth: 64 }
				]);
				for (const [key, value] of flatten(entry)) table.add([key, value]);
				return table.toString();
			})
			.join('\n\n');
		return { json: { entity: kind, id, stats: entries }, text: text || '(no stats)' };
	}

	async #rooms(args: string[]): Promise<CommandOutput> {
		if (args.length > 0) throw new UsageError(`usage: ${this.#commands.rooms!.usage}`);
		const now = Date.now();
		const { byRoom } = this.#count();
		const s = this.#state;
		const rooms = Object.values(s.rooms)
			.sort((a, b) => a.createdAt - b.createdAt)
			.map((room) => ({
				...room,
				...byRoom.get(room.id)!,
				ageSeconds: Math.floor((now - room.createdAt) / 1000),
				activeSpeakerDisplayName: room.activeSpeakerPeerId ? (s.peers[room.activeSpeakerPeerId]?.displayName ?? null) : null
			}));
		const table = new ConsoleTable([
			{ header: 'ROOM', maxWidth: NAME_WIDTH },
			{ header: 'WORKER' },
			{ header: 'PEERS', align: 'right' },
			{ header: 'TRANSPORTS', align: 'right' },
			{ header: 'PRODUCERS', align: 'right' },
			{ header: 'CONSUMERS', align: 'right' },
			{ header: 'AGE', align: 'right' },
			{ header: 'SPEAKER', maxWidth: NAME_WIDTH }
		]);
		for (const r of rooms)
			table.add([
				r.id,
				r.workerPid,
				r.peers,
				r.transports,
				r.producers,
				r.consumers,
				formatDuration(now - r.createdAt),
				r.activeSpeakerDisplayName
			]);
		return { json: rooms, text: rooms.length ? table.toString() : '(no rooms)' };
	}

	async #peers(args: string[]): Promise<CommandOutput> {
		if (args.length > 1) throw new UsageError(`usage: ${this.#commands.peers!.usage}`);
		const [roomId] = args;
		if (roomId !== undefined && !this.#state.rooms[roomId])
			throw new NotFoundError(`no room ${JSON.stringify(ConsoleTable.cell(roomId))}`);
		const now = Date.now();
		const { byPeer } = this.#count();
		const peers = Object.values(this.#state.peers)
			.filter((p) => roomId === undefined || p.roomId === roomId)
			.sort((a, b) => a.roomId.localeCompare(b.roomId) || a.joinedAt - b.joinedAt)
			.map((peer) => ({ ...peer, ...byPeer.get(peer.id)!, ageSeconds: Math.floor((now - peer.joinedAt) / 1000) }));
		const table = new ConsoleTable([
			{ header: 'PEER', maxWidth: ID_WIDTH },
			{ header: 'ROOM', maxWidth: NAME_WIDTH },
			{ header: 'NAME', maxWidth: NAME_WIDTH },
			{ header: 'TYPE' },
			{ header: 'TRANSPORTS', align: 'right' },
			{ header: 'PRODUCERS', align: 'right' },
			{ header: 'CONSUMERS', align: 'right' },
			{ header: 'AGE', align: 'right' }
		]);
		for (const p of peers)
			table.add([
				p.id,
				p.roomId,
				p.displayName,
				p.clientType,
				p.transports,
				p.producers,
				p.consumers,
				formatDuration(now - p.joinedAt)
			]);
		return { json: peers, text: peers.length ? table.toString() : '(no peers)' };
	}

	async #dump(args: string[]): Promise<CommandOutput> {
		const [entity, id, ...rest] = args;
		if (!entity || !(DUMP_ENTITIES as readonly string[]).includes(entity) || !id || rest.length > 0) {
			throw new UsageError(`usage: ${this.#commands.dump!.usage}`);
		}
		const dump = await this.#client.request('dump', { entity: entity as (typeof DUMP_ENTITIES)[number], id });
		return { json: dump, text: JSON.stringify(dump, null, 2) };
	}

	async #usage(args: string[]): Promise<CommandOutput> {
		if (args.length > 0) throw new UsageError(`usage: ${this.#commands.usage!.usage}`);
		const usage = await this.#client.request('usage', {});
		const table = new ConsoleTable([
			{ header: 'PROCESS' },
			{ header: 'PID', align: 'right' },
			{ header: 'CPU USER', align: 'right' },
			{ header: 'CPU SYSTEM', align: 'right' },
			{ header: 'MEMORY', align: 'right' },
			{ header: 'HEAP USED', align: 'right' }
		]);
		const { server } = usage;
		table.add([
			'server',
			server.pid,
			`${server.cpuUserSeconds.toFixed(2)} s`,
			`${server.cpuSystemSeconds.toFixed(2)} s`,
			formatBytes(server.rssBytes),
			formatBytes(server.heapUsedBytes)
		]);
		for (const w of usage.workers) {
			table.add([
				'worker',
				w.pid,
				`${w.cpuUserSeconds.toFixed(2)} s`,
				`${w.cpuSystemSeconds.toFixed(2)} s`,
				`${formatBytes(w.maxRssBytes)} (max)`,
				'-'
			]);
		}
		return { json: usage, text: table.toString() };
	}

	async #logLevel(args: string[]): Promise<CommandOutput> {
		if (args.length > 1) throw new UsageError(`usage: ${this.#commands.loglevel!.usage} (no spaces; separate namespaces with commas)`);
		const result = await this.#client.request('setLogLevel', args.length ? { namespaces: args[0]! } : {});
		return { json: result, text: `log namespaces: ${ConsoleTable.cell(result.namespaces || '(none)', 200)}` };
	}
}
