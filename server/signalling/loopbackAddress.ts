import net from 'node:net';

/** 127.0.0.0/8, ::1, and IPv4-mapped loopback (::ffff:127.x.y.z) as Node reports dual-stack peers. */
export function isLoopbackAddress(address: string | undefined): boolean {
	if (!address) return false;
	const ip = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
	if (net.isIPv4(ip)) return ip.startsWith('127.');
	return net.isIPv6(ip) && (ip === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(ip));
}
