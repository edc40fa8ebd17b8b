// Lint for src/ and test/: typescript-eslint's type-aware recommended rules, with the ones this
// project leans on made errors: a promise nobody awaits is a lost failure (no-floating-promises,
// no-misused-promises). Formatting is prettier's job (npm run format:check), not the linter's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'demo/**', 'coverage/**', 'bench/**', 'bin/**', 'eslint.config.js', 'test/fixtures/**/*.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.eslint.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Services and migrations implement async interfaces; an `async` method without `await`
      // there is conformance, not a mistake.
      '@typescript-eslint/require-await': 'off',
      // Mail is sanitised of control characters on purpose: those regexes name them.
      'no-control-regex': 'off',
    },
  },
  {
    // Tests read JSON printed by the CLI and rows of the real database: `any` is the honest type
    // there, and asserting on it is the point. Promise rules stay on.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
);
