/** `npm run docs:cli`: regenerates the settings flags' table in docs/cli.md from the settings schema. */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withSettingsTable } from '../src/core/settings/docs';

const file = resolve(dirname(fileURLToPath(import.meta.url)), '../docs/cli.md');
const before = readFileSync(file, 'utf8');
const after = withSettingsTable(before);
if (after !== before) writeFileSync(file, after);
console.log(after === before ? 'docs/cli.md is up to date' : 'docs/cli.md: settings flags regenerated');
