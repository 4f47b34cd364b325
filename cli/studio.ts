/** `npm run studio -- <command> …`: the CLI's entry (see cli/main.ts), which runs only as the process's own script. */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main } from './main';

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) process.exitCode = await main(process.argv.slice(2));
