/**
 * Turns a bench size (producers / consumers) into rooms of synthetic peers. Every sending peer
 * sends audio and video (two producers); in a room every producer is consumed by every other peer,
 * so a room of k + 1 peers makes each producer consumed k times, k = consumers / producers. The
 * senders fill rooms of k + 1; the last room is topped up with receive-only peers so its producers
 * are consumed k times as well. 200/2000 gives 9 rooms of 11 senders and one of 1 sender + 10
 * receivers: 100 senders, 200 producers, 2,000 consumers.
 */
export type RoomPlan = { roomId: string; senders: number; receivers: number };

export type BenchTopology = {
	rooms: RoomPlan[];
	/** What the plan produces (close to the size asked for, exact when it divides). */
	producers: number;
	consumers: number;
	peers: number;
};

export type BenchSize = { producers: number; consumers: number };

export function parseSizes(text: string): BenchSize[] {
	return text.split(',').map((part) => {
		const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(part);
		if (!match) throw new TypeError(`--sizes: expected producers/consumers pairs like 50/500,200/2000, got ${JSON.stringify(part)}`);
		const size = { producers: Number(match[1]), consumers: Number(match[2]) };
		if (size.producers < 2 || size.consumers < size.producers) {
			throw new TypeError(`--sizes: ${part.trim()}: need at least 2 producers and at least as many consumers as producers`);
		}
		return size;
	});
}

export function planTopology({ producers, consumers }: BenchSize, roomPrefix = 'bench'): BenchTopology {
	const senders = Math.ceil(producers / 2);
	const perProducer = Math.max(1, Math.round(consumers / producers));
	const roomSize = perProducer + 1;
	const rooms: RoomPlan[] = [];
	for (let left = senders, i = 1; left > 0; i++) {
		const roomSenders = Math.min(roomSize, left);
		left -= roomSenders;
		rooms.push({ roomId: `${roomPrefix}-${i}`, senders: roomSenders, receivers: roomSize - roomSenders });
	}
	let planned = { producers: 0, consumers: 0, peers: 0 };
	for (const room of rooms) {
		const roomProducers = room.senders * 2;
		planned = {
			producers: planned.producers + roomProducers,
			consumers: planned.consumers + roomProducers * (room.senders - 1 + room.receivers),
			peers: planned.peers + room.senders + room.receivers
		};
	}
	return { rooms, ...planned };
}
