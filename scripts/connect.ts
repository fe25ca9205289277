/**
 * The operator console: `scripts/connect [--socket PATH] [--json] [COMMAND [ARGS...]]`.
 * With a command it runs it once and exits (0 ok, 1 failed, 2 bad usage); without one it opens a
 * prompt. The socket comes from --socket, else from the server's config (CONFIG, config/config.js,
 * config/config.example.js), so it finds the server started with the same config.
 */
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from '../server/config/loadConfig.js';
import { ObserverStreamClient } from '../server/stream/ObserverStreamClient.js';
import { ObserverConsole, type CommandOutput } from '../tools/console/ObserverConsole.js';
import { UsageError } from '../server/base/errors.js';
import { parseCommandLine } from '../tools/cli/parseCommandLine.js';

const USAGE = `usage: scripts/connect [--socket PATH] [--json] [--timeout MS] [COMMAND [ARGS...]]
  --socket PATH   the observer socket (default: observer.socketPath of the config in use)
  --json          print one JSON document per command on stdout
  --timeout MS    how long to wait for the server (default 10000)
Without a COMMAND, an interactive prompt opens; "help" lists the commands.`;

type Options = { socket?: string; json: boolean; timeoutMs: number; help: boolean; command: string[] };

const OPTIONS = {
	socket: { type: 'string' },
	json: { type: 'boolean', default: false },
	timeout: { type: 'string', default: '10000' },
	help: { type: 'boolean', short: 'h', default: false }
} as const;

function parseOptions(argv: string[]): Options {
	// Options end at the first positional (or "--"): the rest is the command, dashes and all.
	const { tokens } = parseArgs({ args: argv, options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
	const first = tokens.find((token) => token.kind !== 'option');
	const end = first?.index ?? argv.length;
	const { values } = parseCommandLine({ args: argv.slice(0, end), options: OPTIONS, strict: true });
	const timeoutMs = Number(values.timeout);
	if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
		throw new UsageError(`--timeout: expected a positive integer of milliseconds, got ${JSON.stringify(values.timeout)}`);
	const command = argv.slice(first?.kind === 'option-terminator' ? end + 1 : end);
	return { socket: values.socket, json: values.json, timeoutMs, help: values.help, command };
}

function exitCodeOf(error: Error): number {
	return error instanceof UsageError || error instanceof ConfigError ? 2 : 1;
}

function print(output: CommandOutput, json: boolean): void {
	if (json) process.stdout.write(`${JSON.stringify(output.json, null, 2)}\n`);
	else if (output.text) process.stdout.write(`${output.text}\n`);
}

function printError(error: Error, json: boolean): void {
	if (json) process.stdout.write(`${JSON.stringify({ error: { name: error.name, message: error.message } }, null, 2)}\n`);
	process.stderr.write(`error: ${error.message}\n`);
}

async function interactive(console_: ObserverConsole, client: ObserverStreamClient, json: boolean): Promise<number> {
	const rl = readline.createInterface({
		input: process.stdin,
		output: process.stdout,
		prompt: 'meter-sfu> ',
		terminal: process.stdin.isTTY
	});
	let lost = false;
	client.on('disconnect', () => {
		lost = true;
		process.stderr.write('\nerror: the connection to the server was lost\n');
		rl.close();
	});
	if (!json)
		process.stdout.write(`connected to ${client.socketPath} (server pid ${client.hello?.server.pid}); "help" lists the commands\n`);
	rl.prompt();
	for await (const line of rl) {
		const words = line.trim().split(/\s+/).filter(Boolean);
		if (words.length > 0) {
			try {
				const output = await console_.run(words);
				if (output.quit) break;
				print(output, json);
			} catch (error) {
				printError(error as Error, json);
			}
		}
		rl.prompt();
	}
	rl.close();
	return lost ? 1 : 0;
}

async function main(): Promise<number> {
	let options: Options;
	try {
		options = parseOptions(process.argv.slice(2));
	} catch (error) {
		process.stderr.write(`error: ${(error as Error).message}\n${USAGE}\n`);
		return 2;
	}
	if (options.help) {
		process.stdout.write(`${USAGE}\n`);
		return 0;
	}
	let socketPath = options.socket;
	if (!socketPath) {
		try {
			socketPath = (await loadConfig()).config.observer.socketPath;
		} catch (error) {
			process.stderr.write(`${(error as Error).message}\n`);
			return 2;
		}
	}
	const client = new ObserverStreamClient({ socketPath, connectTimeoutMs: options.timeoutMs, requestTimeoutMs: options.timeoutMs });
	try {
		await client.connect();
	} catch (error) {
		printError(new Error(`cannot reach the server at ${socketPath}: ${(error as Error).message}`), options.json);
		return 1;
	}
	const observerConsole = new ObserverConsole({ client });
	try {
		if (options.command.length === 0) return await interactive(observerConsole, client, options.json);
		try {
			print(await observerConsole.run(options.command), options.json);
			return 0;
		} catch (error) {
			printError(error as Error, options.json);
			return exitCodeOf(error as Error);
		}
	} finally {
		client.close();
	}
}

process.exitCode = await main();
