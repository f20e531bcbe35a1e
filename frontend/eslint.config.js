// ESLint: JavaScript's, Vue's and TypeScript's recommended rules, with every rule about
// layout left to Prettier (`npm run format`).
import js from '@eslint/js'
import { vueTsConfigs, withVueTs } from '@vue/eslint-config-typescript'
import prettier from 'eslint-config-prettier/flat'
import { globalIgnores } from 'eslint/config'
import pluginVue from 'eslint-plugin-vue'
import globals from 'globals'

export default withVueTs(
  // Generated (`npm run gen:api`), built or written by the e2e run: not ours to lint.
  globalIgnores(['dist/', 'node_modules/', 'openapi.json', 'src/api/schema.d.ts', 'e2e/screenshots/']),
  js.configs.recommended,
  pluginVue.configs['flat/recommended'],
  vueTsConfigs.recommended,
  {
    // The browser tests and the config files run in Node; the functions that the e2e
    // tests hand to `page.evaluate` and `addInitScript` run in the page.
    files: ['e2e/**/*.mjs', '*.config.{js,ts}', 'security-headers.ts'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
  prettier,
)
