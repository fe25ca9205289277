/**
 * Writes the Prometheus file_sd file that lists a fleet of meter-sfu servers:
 * `scripts/fleet-targets --file PATH [--list FILE] [--label NAME=VALUE]... [--add | --remove] [HOST:PORT...]`.
 * The file is replaced atomically (temp file in the same directory, fsync, rename), so Prometheus,
 * which re-reads it as soon as it changes, never sees half a file. Output is sorted and grouped by
 * label set, so the same fleet always gives the same bytes; an unchanged file is not rewritten.
 * Exit codes: 0 written or unchanged, 1 I/O or existing-file error, 2 bad usage or input.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ExistingFileError, UsageError } from '../server/base/errors.js';
import { parseCommandLine } from '../tools/cli/parseCommandLine.js';

const USAGE = `usage: scripts/fleet-targets --file PATH [options] [HOST:PORT ...]
Writes a Prometheus file_sd JSON file listing meter-sfu servers (their prometheus.listen:port).
  --file PATH          the file to write, e.g. /etc/prometheus/file_sd/meter-sfu/fleet.json
                       ("-" prints the result instead of writing)
  --list FILE          read targets from FILE ("-": stdin): one "HOST:PORT [NAME=VALUE ...]" per
                       line; blank lines and lines starting with # are skipped
  --label NAME=VALUE   a label for every target (repeatable); labels on a --list line win
  --add                merge into the existing file (a target already there takes its new labels)
  --remove             remove the given targets from the existing file (labels are ignored)
Without --add or --remove the file lists exactly the targets given.
Exit status: 0 written or unchanged, 1 file error, 2 bad usage or input.`;

/** One file_sd group: Prometheus' format (https://prometheus.io/docs/guides/file-sd/). */
type TargetGroup = { targets: string[]; labels: Record<string, string> };

type Mode = 'replace' | 'add' | 'remove';
type Options = { file: string; lists: string[]; labels: Record<string, string>; mode: Mode; targets: string[] };

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const HOST_NAME = /^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;

/** `host:port` or `[ipv6]:port`, checked; returned as Prometheus writes it. */
function parseTarget(text: string): string {
	const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
	if (!match) throw new UsageError(`${JSON.stringify(text)}: expected HOST:PORT (IPv6 as [ADDR]:PORT)`);
	const [, v6, host, portText] = match;
	const port = Number(portText);
	if (port < 1 || port > 65535) throw new UsageError(`${text}: port must be 1-65535`);
	if (v6 !== undefined) {
		if (!net.isIPv6(v6)) throw new UsageError(`${text}: ${v6} is not an IPv6 address`);
		return `[${v6}]:${port}`;
	}
	if (!net.isIPv4(host!) && !HOST_NAME.test(host!)) throw new UsageError(`${text}: ${host} is neither an IPv4 address nor a host name`);
	return `${host}:${port}`;
}

function parseLabel(text: string): [string, string] {
	const eq = text.indexOf('=');
	const name = eq < 0 ? text : text.slice(0, eq);
	if (eq < 0 || !LABEL_NAME.test(name))
		throw new UsageError(`${JSON.stringify(text)}: expected NAME=VALUE with NAME like [a-zA-Z_][a-zA-Z0-9_]*`);
	return [name, text.slice(eq + 1)];
}

function parseOptions(argv: string[]): Options {
	const { values, positionals } = parseCommandLine({
		args: argv,
		options: {
			file: { type: 'string', default: '' },
			list: { type: 'string', multiple: true, default: [] },
			label: { type: 'string', multiple: true, default: [] },
			add: { type: 'boolean', default: false },
			remove: { type: 'boolean', default: false },
			help: { type: 'boolean', short: 'h', default: false }
		},
		strict: true,
		allowPositionals: true
	});
	if (values.help) throw new UsageError('');
	const labels = Object.fromEntries(values.label.map(parseLabel));
	if (!values.file) throw new UsageError('--file is required');
	if (values.add && values.remove) throw new UsageError('--add and --remove exclude each other');
	if (values.remove && values.label.length > 0) throw new UsageError('--remove takes no --label');
	const mode: Mode = values.add ? 'add' : values.remove ? 'remove' : 'replace';
	return { file: values.file, lists: values.list, labels, mode, targets: positionals };
}

/** Targets with their labels, from the command line and the list files; a target given twice must agree. */
function collectTargets(options: Options): Map<string, Record<string, string>> {
	const entries: [string, Record<string, string>, string][] = options.targets.map((t) => [
		parseTarget(t),
		{ ...options.labels },
		'the command line'
	]);
	for (const list of options.lists) {
		const text = fs.readFileSync(list === '-' ? 0 : list, 'utf8');
		text.split('\n').forEach((raw, index) => {
			const line = raw.trim();
			if (line === '' || line.startsWith('#')) return;
			const [target, ...labels] = line.split(/\s+/);
			const where = `${list === '-' ? 'stdin' : list}:${index + 1}`;
			try {
				entries.push([parseTarget(target!), { ...options.labels, ...Object.fromEntries(labels.map(parseLabel)) }, where]);
			} catch (error) {
				throw new UsageError(`${where}: ${(error as Error).message}`);
			}
		});
	}
	const targets = new Map<string, Record<string, string>>();
	const origin = new Map<string, string>();
	for (const [target, labels, where] of entries) {
		const seen = targets.get(target);
		if (seen && canonical(seen) !== canonical(labels)) {
			throw new UsageError(`${target} is given twice with different labels (${origin.get(target)} and ${where})`);
		}
		targets.set(target, labels);
		origin.set(target, where);
	}
	return targets;
}

/** The targets of an existing file_sd file (none if it does not exist); a malformed file is an error, never overwritten. */
function readExisting(file: string): Map<string, Record<string, string>> {
	let text: string;
	try {
		text = fs.readFileSync(file, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
		throw error;
	}
	let groups: unknown;
	try {
		groups = JSON.parse(text);
	} catch (error) {
		throw new ExistingFileError(`${file} is not JSON (${(error as Error).message}); fix or delete it first`);
	}
	const targets = new Map<string, Record<string, string>>();
	if (!Array.isArray(groups)) throw new ExistingFileError(`${file}: expected a JSON array of target groups`);
	for (const group of groups as unknown[]) {
		const { targets: list, labels = {} } = (group ?? {}) as { targets?: unknown; labels?: unknown };
		const labelsOk = typeof labels === 'object' && labels !== null && Object.values(labels).every((v) => typeof v === 'string');
		if (!Array.isArray(list) || !list.every((t) => typeof t === 'string') || !labelsOk) {
			throw new ExistingFileError(`${file}: every group needs "targets" (strings) and optional "labels" (string values)`);
		}
		for (const target of list as string[]) targets.set(target, { ...(labels as Record<string, string>) });
	}
	return targets;
}

/** Labels as a key: sorted, so equal sets compare equal. */
function canonical(labels: Record<string, string>): string {
	return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Groups by label set; groups and targets sorted, so the same fleet always gives the same bytes. */
function toGroups(targets: Map<string, Record<string, string>>): TargetGroup[] {
	const byLabels = new Map<string, TargetGroup>();
	for (const [target, labels] of targets) {
		const key = canonical(labels);
		let group = byLabels.get(key);
		if (!group) byLabels.set(key, (group = { targets: [], labels: Object.fromEntries(JSON.parse(key) as [string, string][]) }));
		group.targets.push(target);
	}
	for (const group of byLabels.values()) group.targets.sort();
	return [...byLabels.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, group]) => group);
}

/**
 * Temp file in the target's directory (rename is atomic only within one file system), named so
 * that a `*.json` file_sd pattern never matches it; fsync before the rename so a crash leaves the
 * old file or the new one, not an empty one.
 */
function writeAtomically(file: string, content: string): void {
	const dir = path.dirname(path.resolve(file));
	const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
	const fd = fs.openSync(temp, 'w', 0o644);
	try {
		fs.writeSync(fd, content);
		fs.fsyncSync(fd);
		fs.closeSync(fd);
		fs.renameSync(temp, file);
	} catch (error) {
		try {
			fs.closeSync(fd);
		} catch {
			/* already closed */
		}
		fs.rmSync(temp, { force: true });
		throw error;
	}
	// Make the rename itself durable; not every file system lets a directory be fsynced.
	try {
		const dirFd = fs.openSync(dir, 'r');
		try {
			fs.fsyncSync(dirFd);
		} finally {
			fs.closeSync(dirFd);
		}
	} catch {
		/* best effort */
	}
}

function main(argv: string[]): number {
	let options: Options;
	let given: Map<string, Record<string, string>>;
	try {
		options = parseOptions(argv);
		given = collectTargets(options);
	} catch (error) {
		if (error instanceof UsageError) {
			if (!error.message) {
				process.stdout.write(`${USAGE}\n`);
				return 0;
			}
			process.stderr.write(`scripts/fleet-targets: ${error.message}\n(scripts/fleet-targets --help lists the options)\n`);
			return 2;
		}
		process.stderr.write(`scripts/fleet-targets: ${(error as Error).message}\n`);
		return 1;
	}
	const toStdout = options.file === '-';
	try {
		let result = given;
		if (options.mode !== 'replace') {
			result = toStdout ? new Map() : readExisting(options.file);
			for (const [target, labels] of given) {
				if (options.mode === 'add') result.set(target, labels);
				else if (!result.delete(target)) process.stderr.write(`scripts/fleet-targets: ${target} was not listed\n`);
			}
		}
		const groups = toGroups(result);
		const content = `${JSON.stringify(groups, null, 2)}\n`;
		if (toStdout) {
			process.stdout.write(content);
			return 0;
		}
		const unchanged = fs.existsSync(options.file) && fs.readFileSync(options.file, 'utf8') === content;
		if (!unchanged) writeAtomically(options.file, content);
		process.stdout.write(`${options.file}: ${result.size} target(s) in ${groups.length} group(s)${unchanged ? ', unchanged' : ''}\n`);
		return 0;
	} catch (error) {
		process.stderr.write(`scripts/fleet-targets: ${(error as Error).message}\n`);
		return 1;
	}
}

process.exitCode = main(process.argv.slice(2));
