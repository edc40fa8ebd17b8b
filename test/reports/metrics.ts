// A report row's figures with nothing counted, and the same with some figures set: the shape
// src/reports/types.ts gives every row, for tests that build reports or state what one holds.
import type { ReportMetrics } from '../../src/reports/types';

export function metrics(over: Partial<ReportMetrics> = {}): ReportMetrics {
  return {
    emails_received: 0,
    closed: 0,
    closed_on_time_without_consulting: 0,
    closed_on_time_with_consulting: 0,
    closed_late_with_consulting: 0,
    closed_late_without_consulting: 0,
    consultations_on_time: 0,
    consultations_late: 0,
    feedback_after_closing: 0,
    feedback_after_closing_pct: null,
    first_response: { count: 0, median_seconds: null, p90_seconds: null },
    resolution: { count: 0, median_seconds: null, p90_seconds: null },
    ratings: { count: 0, by_score: { good: 0, okay: 0, bad: 0 }, good_pct: null },
    ...over,
  };
}
