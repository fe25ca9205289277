import fs from 'node:fs';

/**
 * CPU time (user + system) of a process so far, from /proc/PID/stat (in USER_HZ ticks, 100 per
 * second on Linux). Read from the kernel rather than asked of the process: a saturated mediasoup
 * worker leaves getResourceUsage() unanswered for seconds, the kernel's counters never wait.
 */
export function processCpuMs(pid: number): number {
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	// Fields after the command name (which may hold spaces) start at its closing parenthesis.
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return (Number(fields[11]) + Number(fields[12])) * 10;
}
