// Lint for the whole project (npm run lint, run by npm test before the suite). Formatting is
// Prettier's (.prettierrc.json); import cycles between folders are checked by
// tools/lint/checkFolderCycles.ts, which sees the whole graph at once.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
	{ ignores: ['node_modules/', 'dist/', 'test-artifacts/', '.cache/'] },
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		files: ['**/*.ts', '**/*.mjs', '**/*.js'],
		plugins: { 'import-x': importX },
		languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
		// Resolves the `.js` specifiers of our ESM sources to their `.ts` files, as tsc does.
		settings: {
			'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
			'import-x/resolver-next': [
				createTypeScriptImportResolver({ project: ['tsconfig.json', 'app/tsconfig.json'], noWarnOnMultipleProjects: true })
			]
		},
		rules: {
			// One class per file and files a reader can hold: split by responsibility past this.
			'max-lines': ['error', { max: 500 }],
			// A module cycle makes load order matter and hides a missing layer.
			'import-x/no-cycle': ['error', { ignoreExternal: true }],
			'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
			'@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
			eqeqeq: ['error', 'always'],
			// Control characters are matched on purpose: names and labels are cleaned of them.
			'no-control-regex': 'off',
			'no-console': 'off'
		}
	},
	{
		// Node globals for the project's own tooling and config; the browser's for app/.
		files: ['scripts/**/*.mjs', 'config/**/*.js', 'eslint.config.mjs'],
		languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } }
	},
	prettier
);
