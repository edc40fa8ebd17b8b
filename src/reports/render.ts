// Placeholder (r-sched): the integrator's renderer replaces this file on merge; same signature.
import type { Report, ReportFormat } from './types.js';

export async function renderReport(report: Report, format: ReportFormat, opts: { title: string }): Promise<string> {
  void report;
  void opts;
  throw new Error(`renderReport(${format}): not yet`);
}
