import fs from 'node:fs';

/** USER_HZ: /proc's CPU times are in ticks of 1/100 s on Linux. */
const TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;

/**
 * A process's CPU time so far (user + system, ms) and resident memory, from /proc/PID/stat. Read
 * from the kernel rather than asked of the process: a saturated mediasoup worker leaves
 * getResourceUsage() unanswered for seconds, the kernel's counters never wait.
 */
export function procStat(pid: number): { cpuMs: number; rssBytes: number } {
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	// Fields after the command name (which may hold spaces) start at its closing parenthesis;
	// utime and stime are fields 14 and 15 of the whole line, rss is 24.
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return {
		cpuMs: (Number(fields[11]) + Number(fields[12])) * (1000 / TICKS_PER_SECOND),
		rssBytes: Number(fields[21]) * PAGE_SIZE
	};
}

/** procStat() summed over `pids` (the mediasoup workers of a server). */
export function procStatSum(pids: readonly number[]): { cpuMs: number; rssBytes: number } {
	let cpuMs = 0;
	let rssBytes = 0;
	for (const pid of pids) {
		const stat = procStat(pid);
		cpuMs += stat.cpuMs;
		rssBytes += stat.rssBytes;
	}
	return { cpuMs, rssBytes };
}
