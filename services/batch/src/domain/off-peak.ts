/** A daily window in UTC, e.g. 22:00-06:00 (crossing midnight is allowed). */
export interface OffPeakWindow {
  readonly startMinute: number;
  readonly endMinute: number;
}

const DAY_MIN = 24 * 60;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

const minuteOf = (text: string): number | undefined => {
  const m = TIME.exec(text.trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
};

/**
 * Parses `tenant=HH:MM-HH:MM,...` (UTC): tenants named here have their batch requests
 * released only inside their window. Throws a message naming the bad part.
 */
export function parseOffPeak(text: string): Map<string, OffPeakWindow> {
  const windows = new Map<string, OffPeakWindow>();
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [tenant, range] = part.split('=');
    const [from, to] = (range ?? '').split('-');
    const startMinute = minuteOf(from ?? '');
    const endMinute = minuteOf(to ?? '');
    if (!tenant || startMinute === undefined || endMinute === undefined || startMinute === endMinute) {
      throw new Error(`expected tenant=HH:MM-HH:MM (UTC, start differs from end), got "${part}"`);
    }
    windows.set(tenant, { startMinute, endMinute });
  }
  return windows;
}

/** 0 when the window is open at `nowMs`, else how long until it opens. */
export function msUntilOpen(w: OffPeakWindow, nowMs: number): number {
  const dayMs = nowMs % (DAY_MIN * 60_000);
  const minute = Math.floor(dayMs / 60_000);
  const open = w.startMinute < w.endMinute ? minute >= w.startMinute && minute < w.endMinute : minute >= w.startMinute || minute < w.endMinute;
  if (open) return 0;
  const untilMin = (w.startMinute - minute + DAY_MIN) % DAY_MIN;
  return untilMin * 60_000 - (dayMs % 60_000);
}
