import net from 'node:net';
import { labelValue } from './labelValue.js';
import type { ReverseDnsCache } from './ReverseDnsCache.js';

/**
 * Formats `ip:port` address labels per the exporter's options: `deidentify` masks the address (and
 * never looks it up), `numeric` shows it as is, otherwise the reverse-DNS name is shown once the
 * background look-up has it.
 */
export class AddressLabeler {
	readonly #deidentify: boolean;
	readonly #numeric: boolean;
	readonly #dns?: ReverseDnsCache;

	constructor({ deidentify, numeric, dns }: { deidentify: boolean; numeric: boolean; dns?: ReverseDnsCache }) {
		this.#deidentify = deidentify;
		this.#numeric = numeric;
		this.#dns = dns;
	}

	/** `host:port`, or the host alone when `port` is undefined (`quiet`: ports are per transport). */
	format(ip: string, port?: number): string {
		if (this.#deidentify) return withPort(maskIp(ip), port, net.isIPv6(ip) && !isIpv4Mapped(ip));
		if (this.#numeric || !this.#dns) return withPort(ip, port, net.isIPv6(ip));
		const name = this.#dns.name(ip);
		if (name) return withPort(labelValue(name, 253), port, false);
		return withPort(ip, port, net.isIPv6(ip));
	}
}

function withPort(host: string, port: number | undefined, bracket: boolean): string {
	if (port === undefined) return host;
	return bracket ? `[${host}]:${port}` : `${host}:${port}`;
}

function isIpv4Mapped(ip: string): boolean {
	return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip);
}

/**
 * Masks the host part of an address: IPv4 keeps its first two octets (`10.1.x.x`), IPv6 its first
 * 32 bits (`2001:db8:x:x:x:x:x:x`). An IPv4-mapped IPv6 address is masked as the IPv4 address it
 * carries. Anything that is not an address is masked whole.
 */
export function maskIp(ip: string): string {
	if (isIpv4Mapped(ip)) return maskIp(ip.slice(7));
	if (net.isIPv4(ip)) {
		const [a, b] = ip.split('.');
		return `${a}.${b}.x.x`;
	}
	if (net.isIPv6(ip)) {
		const groups = expandIpv6(ip.replace(/%.*$/, ''));
		return [...groups.slice(0, 2).map((g) => g.toString(16)), 'x', 'x', 'x', 'x', 'x', 'x'].join(':');
	}
	return 'x';
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted quad converted). */
function expandIpv6(ip: string): number[] {
	let text = ip;
	const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
	if (dotted) {
		const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
		text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
	}
	const [head, tail] = text.split('::') as [string, string | undefined];
	const parse = (part: string | undefined): number[] => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
	const front = parse(head);
	const back = parse(tail);
	const zeros = tail === undefined ? [] : new Array<number>(8 - front.length - back.length).fill(0);
	return [...front, ...zeros, ...back];
}
