// Which configuration file a command reads. Apart from the loader so that a command served from
// the kept configuration (./cache.ts) finds its file without loading the YAML parser and zod.
import path from 'node:path';

/** --config beats MAILWARDEN_CONFIG beats config/mailwarden.yaml (relative to the working dir). */
export function findConfigPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(explicit ?? env.MAILWARDEN_CONFIG ?? 'config/mailwarden.yaml');
}
