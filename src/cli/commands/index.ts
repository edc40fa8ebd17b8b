// Every command file, in the order `--help` lists them.
import type { Command } from 'commander';
import { register as config } from './config.js';

export const COMMANDS: Array<(program: Command) => void> = [config];
