// ESLint flat config. typescript-eslint's `recommended` set, not the type-checked one: it needs no
// TypeScript program, so `npm run lint` stays fast; `npm run typecheck` does the type-level checking.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['**/node_modules/', '**/dist/', '**/.data/', '**/coverage/', 'cloud/drizzle/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      // `_`-prefixed names say "deliberately unused" (handler signatures, destructuring to omit a key).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // Scripts that run in the browser (admin console, resident H5), if any are plain JavaScript files.
    files: ['**/web/**/*.{js,mjs}', '**/public/**/*.{js,mjs}'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
