import net from 'node:net';

/** Strips the IPv4-mapped prefix (a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d). */
function unmapped(address: string): string {
	const match = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
	return match ? match[1]! : address;
}

/**
 * Client networks allowed on the metrics port, as CIDRs of either family. An IPv4 client reaching
 * a dual-stack (`::`) listener appears as an IPv4-mapped IPv6 address: it is matched against the
 * IPv4 networks, so `10.0.0.5/32` works whichever address the endpoint is bound to.
 */
export class IpAllowList {
	readonly #list = new net.BlockList();
	readonly #empty: boolean;

	/** `cidrs`: "10.0.0.0/8", "2001:db8::/32", or a bare address for one host. Empty allows everyone. */
	constructor(cidrs: readonly string[]) {
		for (const cidr of cidrs) {
			const [address = '', prefix] = cidr.split('/');
			const family = net.isIP(address);
			if (family === 0) throw new TypeError(`not an IP network: ${JSON.stringify(cidr)}`);
			const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix);
			const host = unmapped(address);
			// "::ffff:10.0.0.0/104" is an IPv4 network written in IPv6 form: keep it as IPv4 as well.
			if (host !== address && bits >= 96) this.#list.addSubnet(host, bits - 96, 'ipv4');
			this.#list.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
		}
		this.#empty = cidrs.length === 0;
	}

	/** True when the list is empty or `address` lies in one of its networks. */
	allows(address: string | undefined): boolean {
		if (this.#empty) return true;
		if (!address) return false;
		const host = unmapped(address);
		const family = net.isIP(host);
		if (family === 0) return false;
		return this.#list.check(host, family === 4 ? 'ipv4' : 'ipv6');
	}
}
