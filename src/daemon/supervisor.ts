// Holds the services of `mailwarden run` by name: starts them (one failing to start is logged and
// does not stop the others), stops them all together (each finishing what it has in hand), and
// swaps single services when a reload changes them.
import type { Config } from '../config/types.js';
import { logEvent, type Logger } from '../log.js';
import type { Service } from './service.js';

export class Supervisor {
  private readonly services = new Map<string, Service>();

  constructor(private readonly log: Logger) {}

  names(): string[] {
    return [...this.services.keys()];
  }

  get(name: string): Service | undefined {
    return this.services.get(name);
  }

  /** Starts a service and keeps it; false (logged) when it failed to start. */
  async add(service: Service): Promise<boolean> {
    try {
      await service.start();
      this.services.set(service.name, service);
      return true;
    } catch (err) {
      this.log.error(logEvent('service.start_failed', { service: service.name, err: (err as Error).message }), 'service failed to start');
      return false;
    }
  }

  async remove(name: string): Promise<void> {
    const service = this.services.get(name);
    if (!service) return;
    this.services.delete(name);
    await this.stopOne(service);
  }

  async stopAll(): Promise<void> {
    const all = [...this.services.values()];
    this.services.clear();
    await Promise.all(all.map((s) => this.stopOne(s)));
  }

  /** Passes a new config to every service that takes one. */
  async reloadAll(config: Config): Promise<void> {
    for (const service of this.services.values()) {
      if (!service.reload) continue;
      try {
        await service.reload(config);
      } catch (err) {
        this.log.error(logEvent('service.reload_failed', { service: service.name, err: (err as Error).message }), 'service failed to reload');
      }
    }
  }

  private async stopOne(service: Service): Promise<void> {
    try {
      await service.stop();
    } catch (err) {
      this.log.error(logEvent('service.stop_failed', { service: service.name, err: (err as Error).message }), 'service failed to stop cleanly');
    }
  }
}
