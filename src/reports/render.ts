// Placeholder (r-sched): the integrator's renderer replaces this file on merge; same signature.
import type { Report, ReportFormat } from './types.js';

export function renderReport(report: Report, format: ReportFormat): string {
  void report;
  throw new Error(`renderReport(${format}): not yet`);
}
