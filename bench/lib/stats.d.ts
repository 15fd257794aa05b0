// Types of stats.js (the bench runs as plain JavaScript on Node 20, without a build step).

/** Command names (base name, before `|`) the harness sends itself and never counts. */
export declare const HARNESS_COMMANDS: readonly string[];
export type CommandCounts = Record<string, number>;
export declare function parseCommandTimes(info: string): Record<string, { calls: number; usec: number }>;
export declare function parseCommandStats(info: string): CommandCounts;
export declare function commandDelta(before: CommandCounts, after: CommandCounts): CommandCounts;
export declare function perRequest(
  delta: CommandCounts,
  requests: number,
): { total: number; byCommand: CommandCounts };
export declare function percentiles(values: ArrayLike<number>, ps: readonly number[]): number[];
export declare class Samples {
  push(v: number): void;
  readonly length: number;
  values(): Float64Array;
}
export declare function cpuPerRequest(
  before: { user: number; system: number },
  after: { user: number; system: number },
  requests: number,
): number;
export declare function parseMonitor(lines: readonly string[]): {
  byCommand: CommandCounts;
  nestedPerScript: number;
};
export declare function roundTripsPerRequest(
  delta: CommandCounts,
  nestedPerScript: number,
  requests: number,
): number;
export declare function spread(values: readonly number[]): number;
export declare function median(values: readonly number[]): number;
