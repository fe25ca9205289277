import { Gauge, Histogram } from 'prom-client';
import { registers, type CollectorContext } from './CollectorContext.js';
import { labelValue } from '../labels/labelValue.js';

/**
 * Rooms and peers: edumeet's `edumeet_rooms` and `edumeet_peers{room_id}`, peers by client type,
 * senders, the largest room, and the gauge histograms of room size and senders per room (observed
 * afresh from the snapshot, one observation per room).
 */
export function meetingCollector({ registry, state, snapshot, options }: CollectorContext): void {
	const reg = registers(registry);
	const rooms = Object.values(state.rooms);
	const peersByRoom = new Map<string, number>(rooms.map((r) => [r.id, 0]));
	const byClient = new Map<string, number>([
		['browser', 0],
		['synthetic', 0]
	]);
	for (const peer of Object.values(state.peers)) {
		if (peersByRoom.has(peer.roomId)) peersByRoom.set(peer.roomId, peersByRoom.get(peer.roomId)! + 1);
		byClient.set(peer.clientType, (byClient.get(peer.clientType) ?? 0) + 1);
	}
	// A sender is a peer with at least one producer of the kind that is not paused.
	const senders = { audio: new Set<string>(), video: new Set<string>() };
	for (const producer of Object.values(state.producers)) {
		if (!producer.paused && producer.peerId !== null && producer.peerId in state.peers) senders[producer.kind].add(producer.peerId);
	}
	const sendersByRoom = (kind: 'audio' | 'video'): Map<string, number> => {
		const counts = new Map<string, number>(rooms.map((r) => [r.id, 0]));
		for (const peerId of senders[kind]) {
			const roomId = state.peers[peerId]!.roomId;
			if (counts.has(roomId)) counts.set(roomId, counts.get(roomId)! + 1);
		}
		return counts;
	};

	new Gauge({ name: 'edumeet_rooms', help: 'Rooms open', registers: reg }).set(rooms.length);
	if (options.perObjectMetrics) {
		const peers = new Gauge({ name: 'edumeet_peers', help: 'Peers in each room', labelNames: ['room_id'], registers: reg });
		for (const [roomId, count] of peersByRoom) peers.set({ room_id: labelValue(roomId) }, count);
	}
	const clients = new Gauge({
		name: 'edumeet_peers_by_client',
		help: 'Peers by client type; sum() is all peers',
		labelNames: ['client_type'],
		registers: reg
	});
	for (const [clientType, count] of byClient) clients.set({ client_type: clientType }, count);
	const sendersGauge = new Gauge({
		name: 'edumeet_senders',
		help: 'Peers sending at least one unpaused producer of the kind',
		labelNames: ['kind'],
		registers: reg
	});
	sendersGauge.set({ kind: 'audio' }, senders.audio.size);
	sendersGauge.set({ kind: 'video' }, senders.video.size);
	new Gauge({ name: 'edumeet_largest_room_peers', help: 'Peers in the largest room', registers: reg }).set(
		Math.max(0, ...peersByRoom.values())
	);
	// The limit as a series of its own, so alerts can compare room sizes with it (it comes with the counters).
	if (snapshot.counters) {
		new Gauge({ name: 'edumeet_room_max_peers', help: 'Most peers a room admits (config room.maxPeers)', registers: reg }).set(
			snapshot.counters.roomMaxPeers
		);
	}

	const roomPeers = new Histogram({
		name: 'edumeet_room_peers',
		help: 'Room sizes in peers (gauge histogram: re-observed every scrape, one observation per room)',
		buckets: options.buckets.roomPeers,
		registers: reg
	});
	for (const count of peersByRoom.values()) roomPeers.observe(count);
	for (const kind of ['audio', 'video'] as const) {
		const histogram = new Histogram({
			name: `edumeet_room_${kind}_senders`,
			help: `Peers sending ${kind} per room (gauge histogram: re-observed every scrape, one observation per room)`,
			buckets: options.buckets.roomSenders,
			registers: reg
		});
		for (const count of sendersByRoom(kind).values()) histogram.observe(count);
	}
}
