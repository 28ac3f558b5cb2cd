// Fault injection for the REST API: a share of requests answered with a non-JSON body, or 503.
export interface FaultSettings {
  /** Share (0..1) of API requests answered 200 with a body that is not JSON. */
  garbageJsonRate: number;
  /** Share (0..1) of API requests answered 503 (checked after garbageJsonRate). */
  unavailableRate: number;
}

export type Fault = 'garbage_json' | 'unavailable';

export class Faults {
  private settings: FaultSettings = { garbageJsonRate: 0, unavailableRate: 0 };

  constructor(private readonly random: () => number = Math.random) {}

  set(settings: Partial<FaultSettings>): void {
    this.settings = { ...this.settings, ...settings };
  }

  clear(): void {
    this.settings = { garbageJsonRate: 0, unavailableRate: 0 };
  }

  /** Draws the fault for one request, if any; a faulty request never reaches a handler. */
  draw(): Fault | undefined {
    if (this.settings.garbageJsonRate > 0 && this.random() < this.settings.garbageJsonRate) return 'garbage_json';
    if (this.settings.unavailableRate > 0 && this.random() < this.settings.unavailableRate) return 'unavailable';
    return undefined;
  }
}
