import { BadRequestError } from './RequestError.js';

/**
 * Control characters, bidirectional overrides/isolates (which can disguise a name in other
 * peers' UIs) and line/paragraph separators.
 */
const UNWANTED = /[\p{Cc}\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029]/gu;

/**
 * A surrogate without its partner: no UTF-8 form, so JSON carries it as a `\ud800` escape that
 * strict consumers (the console's --json readers, other peers' UIs) choke on.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The display name as other peers will see it: cleaned (lone surrogates become U+FFFD), trimmed,
 * 1..max characters (code points).
 */
export function normalizeDisplayName(raw: string, maxLength: number): string {
	const name = raw.replace(UNWANTED, '').replace(LONE_SURROGATE, '\uFFFD').trim();
	const length = [...name].length;
	if (length === 0) throw new BadRequestError('data.displayName: empty after removing spaces and control characters');
	if (length > maxLength) throw new BadRequestError(`data.displayName: longer than ${maxLength} characters`);
	return name;
}
