// Chaos tests draw their random moments from a seeded generator and print the seed, so a
// failure seen once can be replayed: MAILWARDEN_TEST_SEED=<seed> npx vitest run <file>.
export interface Seeded {
  seed: number;
  /** Uniform in [0, 1), like Math.random. */
  random(): number;
  /** Integer in [0, n). */
  below(n: number): number;
}

export function seededRandom(label: string): Seeded {
  const given = process.env.MAILWARDEN_TEST_SEED;
  const seed = given !== undefined && given !== '' ? Number(given) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  console.log(`${label}: seed ${seed} (MAILWARDEN_TEST_SEED=${seed} replays it)`);
  // mulberry32: tiny, fast, and good enough to spread kill moments.
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return { seed, random, below: (n) => Math.floor(random() * n) };
}
