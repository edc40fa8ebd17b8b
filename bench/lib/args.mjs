// bench/lib/args: the benches' `--name value` options, read from the command line. One place, so
// every bench reads them alike, and an option without its value, a number mistyped or a count
// below 1 stops the bench with one line instead of running it on a default, on NaN or on nothing.

/** The value after `--name` as given, or `fallback` when the option is absent. */
export function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const given = process.argv[i + 1];
  if (given === undefined || given.startsWith('--')) refuse(`--${name} takes a value`);
  return given;
}

/** The value after `--name` as a number, or `fallback` when the option is absent. */
export function numberOption(name, fallback) {
  const given = option(name, undefined);
  if (given === undefined) return fallback;
  const n = Number(given);
  if (given === '' || Number.isNaN(n)) refuse(`--${name} takes a number, not ${JSON.stringify(given)}`);
  return n;
}

/** The value after `--name` as a whole number of at least 1 (messages, rounds, senders…), or `fallback`. */
export function countOption(name, fallback) {
  const n = numberOption(name, fallback);
  if (!Number.isInteger(n) || n < 1) refuse(`--${name} takes a whole number of at least 1, not ${n}`);
  return n;
}

function refuse(why) {
  process.stderr.write(`${process.argv[1]}: ${why}.\n`);
  process.exit(64);
}
