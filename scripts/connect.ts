/**
 * The operator console: `scripts/connect [--socket PATH] [--json] [COMMAND [ARGS...]]`.
 * With a command it runs it once and exits (0 ok, 1 failed, 2 bad usage); without one it opens a
 * prompt. The socket comes from --socket, else from the server's config (CONFIG, config/config.js,
 * config/config.example.js), so it finds the server started with the same config.
 */
import readline from 'node:readline';
import { loadConfig, ConfigError } from '../server/config/loadConfig.js';
import { ObserverStreamClient } from '../server/stream/ObserverStreamClient.js';
import { ObserverConsole, UsageError, type CommandOutput } from '../server/stream/ObserverConsole.js';

const USAGE = `usage: scripts/connect [--socket PATH] [--json] [--timeout MS] [COMMAND [ARGS...]]
  --socket PATH   the observer socket (default: observer.socketPath of the config in use)
  --json          print one JSON document per command on stdout
  --timeout MS    how long to wait for the server (default 10000)
Without a COMMAND, an interactive prompt opens; "help" lists the commands.`;

type Options = { socket?: string; json: boolean; timeoutMs: number; command: string[] };

function parseArgs(argv: string[]): Options {
	const options: Options = { json: false, timeoutMs: 10_000, command: [] };
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i]!;
		const value = (): string => {
			const v = argv[++i];
			if (v === undefined) throw new UsageError(`${arg} needs a value`);
			return v;
		};
		if (arg === '--json') options.json = true;
		else if (arg === '--socket') options.socket = value();
		else if (arg.startsWith('--socket=')) options.socket = arg.slice('--socket='.length);
		else if (arg === '--timeout') options.timeoutMs = Number(value());
		else if (arg === '-h' || arg === '--help') options.command = ['--help'];
		else if (arg.startsWith('-') && options.command.length === 0) throw new UsageError(`unknown option ${arg}`);
		else {
			options.command = argv.slice(i);
			break;
		}
	}
	if (!Number.isInteger(options.timeoutMs) || options.timeoutMs < 1) throw new UsageError('--timeout: expected a positive integer of milliseconds');
	return options;
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
	const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: 'meter-sfu> ', terminal: process.stdin.isTTY });
	let lost = false;
	client.on('disconnect', () => {
		lost = true;
		process.stderr.write('\nerror: the connection to the server was lost\n');
		rl.close();
	});
	if (!json) process.stdout.write(`connected to ${client.socketPath} (server pid ${client.hello?.server.pid}); "help" lists the commands\n`);
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
		options = parseArgs(process.argv.slice(2));
	} catch (error) {
		process.stderr.write(`error: ${(error as Error).message}\n${USAGE}\n`);
		return 2;
	}
	if (options.command[0] === '--help') {
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
