// A consultation's deadline counts working time in the department's calendar (SPEC §5C), as a
// case's does in its pool's: `8h` asked on Friday 15:00 with 09-17 hours is due Monday 15:00, and
// on Tuesday when that Monday is a holiday. In-process, on the real config loader and a real
// SQLite file; the clock is moved to the Friday.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { setClockOffset } from '../../src/clock';
import { requireConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { consultCase } from '../../src/cases/consult';
import { writeTx, type Opened } from '../../src/db/connection';
import { writeTestConfig, type TestConfig } from '../support/config';
import { removeTempDir } from '../support/tmp';
import { insertCase, openTestDb } from './fixtures';

const WEEKDAYS = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, ['09:00-17:00']]));
const ZONE = 'Europe/Warsaw';

describe('consultation deadlines in working time', () => {
  let cfg: TestConfig;
  let config: Config;
  let opened: Opened;

  beforeAll(async () => {
    cfg = await writeTestConfig({
      overrides: {
        calendars: [
          { id: 'office', timezone: ZONE, hours: WEEKDAYS },
          { id: 'office-easter', timezone: ZONE, hours: WEEKDAYS, holidays: ['2027-03-29'] },
        ],
        departments: [
          { id: 'fraud', name: 'Fraud Prevention', email: 'fraud@dept.test', deadline: '8h', calendar: 'office' },
          { id: 'legal', name: 'Legal', email: 'legal@dept.test', deadline: '8h', calendar: 'office-easter' },
          { id: 'audit', name: 'Audit', email: 'audit@dept.test', deadline: '8h' },
        ],
      },
    });
    config = requireConfig(cfg.configPath);
    opened = await openTestDb(cfg.dataDir);
  });
  afterEach(() => setClockOffset(0));
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  const local = (iso: string) => DateTime.fromISO(iso, { zone: ZONE }).toFormat('cccc yyyy-MM-dd HH:mm');

  it('skips the weekend, a holiday, and counts wall-clock time without a calendar', async () => {
    // Friday 26 March 2027, 15:00 in Warsaw.
    const friday = DateTime.fromObject({ year: 2027, month: 3, day: 26, hour: 15 }, { zone: ZONE }).toMillis();
    setClockOffset(friday - Date.now());
    const c = await insertCase(opened.db, { pool: 'cards', status: 'in_progress', assignee: 'cody' });
    const cody = config.consultants.find((x) => x.id === 'cody')!;
    const r = await writeTx(opened.db, (tx) =>
      consultCase(tx, config, cody, { caseId: c.id, departments: ['fraud', 'legal', 'audit'], text: 'Three questions.', attachments: [] }),
    );
    const due = Object.fromEntries(r.consultations.map((x) => [x.dept, local(x.deadline_at)]));
    expect(due).toEqual({
      fraud: 'Monday 2027-03-29 15:00',
      legal: 'Tuesday 2027-03-30 15:00',
      audit: 'Friday 2027-03-26 23:00',
    });
  });
});
