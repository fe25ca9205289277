/**
 * One formatter from Zod issues to the project's messages, for the config and for signalling
 * requests alike. Each message names the key path and the expected form:
 *   prometheus.port: expected an integer from 0 to 65535, got "8889"
 *   data.roomId: missing; expected a room id (1 to 64 of A-Z a-z 0-9 _ - .)
 *   data.role: unknown field (known fields: roomId, displayName, rtpCapabilities)
 * The expected form is read off the schema at the path Zod reports (its `.describe()` text, else its
 * kind and bounds), so each schema states it once. A custom issue (a refinement, a cross-field
 * check, a transform's) carries its own message: `prometheus.tls: certFile and keyFile go together`.
 */
import { z } from 'zod';

export type IssueStyle = {
	/** Where paths start: '' for the config's top level, 'data' for a request's data. */
	root: string;
	/** A config has keys (and tells the operator what it got); a request has fields (and echoes nothing back). */
	members: 'keys' | 'fields';
};

export type Validated<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/** Parses `value` with `schema`: the output, or every problem as a message. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, style: IssueStyle): Validated<z.output<S>> {
	const result = schema.safeParse(value, { reportInput: true });
	return result.success ? { ok: true, value: result.data } : { ok: false, problems: formatIssues(schema, result.error.issues, style) };
}

/** A client is told one problem of its request: an unknown field first (a typo explains the rest), else the first. */
export function requestProblem(schema: z.ZodType, issues: readonly z.core.$ZodIssue[], root = 'data'): string {
	const first = issues.find((issue) => issue.code === 'unrecognized_keys') ?? issues[0]!;
	return formatIssues(schema, [first], { root, members: 'fields' })[0]!;
}

/**
 * For a cross-field refinement (superRefine) that should report even when other keys of its
 * object fail, but only once the keys it reads have passed.
 */
export function whenValid(...keys: string[]): { when: (payload: z.core.ParsePayload) => boolean } {
	return {
		when: ({ issues }) =>
			!issues.some(({ code, path = [] }) => (path.length === 0 ? code !== 'unrecognized_keys' : keys.includes(String(path[0]))))
	};
}

/** One message per Zod issue (per key, for unknown keys), in Zod's order. */
export function formatIssues(schema: z.ZodType, issues: readonly z.core.$ZodIssue[], style: IssueStyle): string[] {
	const at = (path: readonly PropertyKey[]): string => pathText(style.root, path);
	return issues.flatMap((issue): string[] => {
		switch (issue.code) {
			case 'unrecognized_keys': {
				const target = unwrap(schemaAt(schema, issue.path));
				const known = target instanceof z.ZodObject ? Object.keys(target.shape).join(', ') || 'none' : 'none';
				const text =
					style.members === 'keys' ? `unknown key (known keys here: ${known})` : `unknown field (known fields: ${known})`;
				return issue.keys.map((key) => `${at([...issue.path, key])}: ${text}`);
			}
			case 'invalid_key': {
				const record = unwrap(schemaAt(schema, issue.path.slice(0, -1)));
				const keyForm = record instanceof z.ZodRecord ? expectedForm(record.keyType as z.ZodType) : 'a valid key';
				return [`${at(issue.path.slice(0, -1))}: key ${JSON.stringify(issue.path.at(-1))} is not ${keyForm}`];
			}
			case 'custom':
				return [`${at(issue.path)}: ${issue.message}`];
			default: {
				const target = schemaAt(schema, issue.path);
				if (issue.input === undefined) return [`${at(issue.path)}: missing; expected ${expectedForm(target)}`];
				// Not an object at all: its keys are beside the point.
				const expected = unwrap(target) instanceof z.ZodObject && !target?.description ? 'an object' : expectedForm(target);
				return [`${at(issue.path)}: expected ${expected}${style.members === 'keys' ? `, got ${valueText(issue.input)}` : ''}`];
			}
		}
	});
}

/** What a schema accepts, in words: its description, else its kind and bounds. */
function expectedForm(schema: z.ZodType | undefined): string {
	if (!schema) return 'a valid value';
	if (schema.description) return schema.description;
	if (schema instanceof z.ZodNullable) return `${expectedForm(schema.unwrap() as z.ZodType)} or null`;
	const inner = unwrap(schema);
	if (inner !== schema) return expectedForm(inner);
	if (schema instanceof z.ZodBoolean) return 'true or false';
	if (schema instanceof z.ZodEnum) return `one of ${schema.options.map((v) => JSON.stringify(v)).join(', ')}`;
	if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).map(expectedForm).join(' or ');
	if (schema instanceof z.ZodNumber) return rangeText(schema.isInt ? 'an integer' : 'a number', schema.minValue, schema.maxValue);
	if (schema instanceof z.ZodString) {
		const { minLength: min, maxLength: max } = schema;
		return min && max !== null ? `a string of ${min} to ${max} characters` : min ? 'a non-empty string' : 'a string';
	}
	if (schema instanceof z.ZodArray) {
		const min = schema.def.checks?.map((check) => check._zod.def).find((def) => def.check === 'min_length') as
			{ minimum: number } | undefined;
		return `an array${min ? ` of at least ${min.minimum}` : ''} of ${expectedForm(schema.element as z.ZodType)}`;
	}
	// Keys are worth naming when they are the object's (strict or loose), not a record's typed rest.
	const { catchall } = schema instanceof z.ZodObject ? schema.def : { catchall: undefined };
	const named =
		schema instanceof z.ZodObject &&
		Object.keys(schema.shape).length > 0 &&
		(!catchall || catchall instanceof z.ZodNever || catchall instanceof z.ZodUnknown);
	return named ? `an object with keys ${Object.keys(schema.shape).join(', ')}` : 'an object';
}

function rangeText(kind: string, min: number | null, max: number | null): string {
	// z.int() bounds itself to the safe integers: no bound worth naming.
	const bounded = (v: number | null): v is number => v !== null && Math.abs(v) < Number.MAX_SAFE_INTEGER;
	if (bounded(min) && bounded(max)) return `${kind} from ${min} to ${max}`;
	if (bounded(min)) return `${kind} ≥ ${min}`;
	return bounded(max) ? `${kind} ≤ ${max}` : kind;
}

/** The schema itself, through what wraps it without changing its form (a default, optional, a transform). */
function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
	while (true) {
		if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault || schema instanceof z.ZodOptional) {
			schema = schema.unwrap() as z.ZodType;
		} else if (schema instanceof z.ZodPipe) {
			schema = schema.in as z.ZodType;
		} else {
			return schema;
		}
	}
}

/** The schema that checks the value at `path` below `schema`. */
function schemaAt(schema: z.ZodType | undefined, path: readonly PropertyKey[]): z.ZodType | undefined {
	for (const key of path) {
		schema = unwrap(schema);
		if (schema instanceof z.ZodNullable) schema = unwrap(schema.unwrap() as z.ZodType);
		if (schema instanceof z.ZodObject) {
			schema = (schema.shape as Record<PropertyKey, z.ZodType>)[key] ?? (schema.def.catchall as z.ZodType | undefined);
		} else if (schema instanceof z.ZodArray) {
			schema = schema.element as z.ZodType;
		} else if (schema instanceof z.ZodRecord) {
			schema = schema.valueType as z.ZodType;
		} else {
			return undefined;
		}
	}
	return schema;
}

function pathText(root: string, path: readonly PropertyKey[]): string {
	let text = root;
	for (const key of path) text += typeof key === 'number' ? `[${key}]` : text ? `.${String(key)}` : String(key);
	return text || '(root)';
}

function valueText(value: unknown): string {
	if (value === null) return 'null';
	if (Array.isArray(value)) return `an array of ${value.length}`;
	if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
	if (typeof value === 'object') return 'an object';
	return `${typeof value} ${String(value)}`;
}
