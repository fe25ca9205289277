import { Counter, Gauge } from 'prom-client';
import { registers, type CollectorContext } from './CollectorContext.js';

/** Per-worker series (always: a handful of workers) from the state model and the `usage` request. */
export function workerCollector({ registry, state, snapshot, addresses }: CollectorContext): void {
	const reg = registers(registry);
	const pids = Object.values(state.workers).map((w) => String(w.pid));
	new Gauge({ name: 'mediasoup_workers', help: 'mediasoup workers running', registers: reg }).set(pids.length);
	if (snapshot.counters) {
		new Counter({ name: 'mediasoup_worker_deaths_total', help: 'mediasoup workers that died (each is replaced)', registers: reg }).inc(
			snapshot.counters.workerDeaths
		);
	}
	const start = new Gauge({
		name: 'mediasoup_worker_start_time_seconds',
		help: 'Start time of the worker, Unix seconds',
		labelNames: ['pid'],
		registers: reg
	});
	for (const w of Object.values(state.workers)) start.set({ pid: String(w.pid) }, w.startedAt / 1000);

	// Routers are in the state model since protocol revision 1.1; before, rooms tell the same.
	const pidByRouter = new Map<string, string>();
	for (const room of Object.values(state.rooms)) pidByRouter.set(room.routerId, String(room.workerPid));
	for (const router of Object.values(state.routers ?? {})) pidByRouter.set(router.id, String(router.workerPid));
	const routers = new Map(pids.map((pid) => [pid, 0]));
	for (const pid of pidByRouter.values()) if (routers.has(pid)) routers.set(pid, routers.get(pid)! + 1);
	const transports = new Map(pids.map((pid) => [pid, 0]));
	for (const t of Object.values(state.transports)) {
		const pid = pidByRouter.get(t.routerId) ?? '';
		if (transports.has(pid)) transports.set(pid, transports.get(pid)! + 1);
	}
	const routerGauge = new Gauge({
		name: 'mediasoup_worker_routers',
		help: 'Routers (one per room) on the worker',
		labelNames: ['pid'],
		registers: reg
	});
	const transportGauge = new Gauge({
		name: 'mediasoup_worker_transports',
		help: 'Transports on the worker',
		labelNames: ['pid'],
		registers: reg
	});
	for (const pid of pids) {
		routerGauge.set({ pid }, routers.get(pid)!);
		transportGauge.set({ pid }, transports.get(pid)!);
	}

	// Protocol version 1 servers have no WebRtcServers in their state.
	const webRtcServers = Object.values(state.webRtcServers ?? {});
	const listening = new Gauge({
		name: 'mediasoup_webrtc_server_listen_info',
		help: "Where the worker's WebRtcServer takes all its WebRTC transports' media (1 per socket)",
		labelNames: ['pid', 'proto', 'local_addr'],
		registers: reg
	});
	const handled = new Gauge({
		name: 'mediasoup_webrtc_server_transports',
		help: "WebRTC transports whose media goes through the worker's WebRtcServer",
		labelNames: ['pid'],
		registers: reg
	});
	for (const server of webRtcServers) {
		const pid = String(server.workerPid);
		handled.set({ pid }, server.transports);
		// The port stays even with `quiet`: one per worker.
		for (const { protocol, ip, port } of server.listenInfos)
			listening.set({ pid, proto: protocol, local_addr: addresses.format(ip, port) }, 1);
	}

	if (snapshot.usage) {
		const cpu = new Counter({
			name: 'mediasoup_worker_cpu_seconds_total',
			help: 'CPU time of the worker (getResourceUsage ru_utime / ru_stime)',
			labelNames: ['pid', 'mode'],
			registers: reg
		});
		const rss = new Gauge({
			name: 'mediasoup_worker_max_rss_bytes',
			help: 'Peak resident memory of the worker (getResourceUsage ru_maxrss)',
			labelNames: ['pid'],
			registers: reg
		});
		for (const w of snapshot.usage.workers) {
			const pid = String(w.pid);
			cpu.inc({ pid, mode: 'user' }, w.cpuUserSeconds);
			cpu.inc({ pid, mode: 'system' }, w.cpuSystemSeconds);
			rss.set({ pid }, w.maxRssBytes);
		}
	}
}
