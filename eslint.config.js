// Flat config: ESLint's and typescript-eslint's recommended rules, syntax-only (no type
// information) so that `npm run lint` stays fast. Formatting is Prettier's job (`prettier --check`).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/', 'bench/results/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // The client SDK also runs in browsers.
    files: ['libs/client/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
  },
  {
    // The console page's script runs in browsers only.
    files: ['src/console/public/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    rules: {
      // Tests reach into fakes and raw frames on purpose.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
