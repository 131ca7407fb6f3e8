// `node --import ./record-imports.mjs …`: every module the process resolves is appended, one URL
// a line, to the file named by MIXSCALE_RECORD_IMPORTS (tests check what a command loads).
import { register } from 'node:module';

register('./record-imports-hooks.mjs', import.meta.url, { data: process.env['MIXSCALE_RECORD_IMPORTS'] });
