import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CHECK = path.resolve('tools/lint/checkFolderCycles.ts');

/** Runs the check on `root`'s folders a and b; paths in its output are shown relative to `root`. */
function check(root: string): { status: number | null; out: string } {
	const run = spawnSync(process.execPath, ['--import', 'tsx', CHECK, path.join(root, 'a'), path.join(root, 'b')], {
		encoding: 'utf8',
		timeout: 60_000
	});
	return { status: run.status, out: (run.stdout + run.stderr).replaceAll(`${root}/`, '') };
}

test('the folder-cycle check fails on folders that import each other, naming an import of each edge, and passes a layered tree', () => {
	const root = fs.mkdtempSync(path.join(os.tmpdir(), 'msfu-cycles-'));
	try {
		fs.mkdirSync(path.join(root, 'a', 'inner'), { recursive: true });
		fs.mkdirSync(path.join(root, 'b'));
		fs.writeFileSync(path.join(root, 'a', 'one.ts'), "import { two } from '../b/two.js';\nexport const one = two;\n");
		fs.writeFileSync(path.join(root, 'b', 'two.ts'), 'export const two = 2;\n');
		fs.writeFileSync(path.join(root, 'a', 'inner', 'three.ts'), "import { one } from '../one.js';\nexport const three = one;\n");
		const layered = check(root);
		assert.equal(layered.status, 0, layered.out);
		assert.match(layered.out, /no import cycles between the 2 folders/);

		// b now imports a back (type-only imports count: they are a dependency all the same).
		fs.writeFileSync(
			path.join(root, 'b', 'two.ts'),
			"import type { three } from '../a/inner/three.js';\nexport const two = 2;\nexport type T = typeof three;\n"
		);
		const cyclic = check(root);
		assert.equal(cyclic.status, 1, cyclic.out);
		assert.match(cyclic.out, /folders that import each other: a, a\/inner, b/);
		assert.match(cyclic.out, /b → a\/inner: b\/two\.ts → \.\.\/a\/inner\/three\.js/);
	} finally {
		fs.rmSync(root, { recursive: true, force: true });
	}
});
