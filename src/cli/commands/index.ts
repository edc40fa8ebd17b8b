// Every command file, in the order `--help` lists them.
import type { Command } from 'commander';
import { register as config } from './config.js';
import { register as init } from './init.js';
import { register as cases } from './cases.js';
import { register as show } from './show.js';

export const COMMANDS: Array<(program: Command) => void> = [init, config, cases, show];
