/** Longest display name or user agent put into a label, in code points. */
export const MAX_LABEL_CHARS = 128;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// C0 controls except tab and newline (the exposition escapes newlines), DEL and C1 controls.
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;

/**
 * A label value that cannot break the exposition: lone surrogates (which have no UTF-8 form) and
 * control characters become U+FFFD, and the value is cut at `maxChars` code points, never inside a
 * surrogate pair. Escaping of `\`, `"` and newlines is the exposition format's job (prom-client).
 */
export function labelValue(value: string, maxChars = MAX_LABEL_CHARS): string {
	let s = value.length > maxChars * 2 ? value.slice(0, maxChars * 2) : value;
	s = s.replace(LONE_SURROGATE, '\uFFFD').replace(CONTROL, '\uFFFD');
	if (s.length > maxChars) {
		const codePoints = Array.from(s);
		if (codePoints.length > maxChars) s = codePoints.slice(0, maxChars).join('');
	}
	return s;
}
