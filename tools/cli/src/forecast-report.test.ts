import { describe, expect, it } from 'vitest';
import { forecast } from './domain/forecast/forecast.js';
import { options } from './domain/forecast/forecast.fixture.js';
import { formatForecast } from './forecast-report.js';

describe('formatForecast', () => {
  it('prints a row per scale, then per scale its tiers, pools, bill and the GPUs to add', () => {
    const text = formatForecast(forecast({ ...options, scales: [1, 10] }), {
      source: 'trace mine.csv (generic-csv)',
      model: options.model,
      durationS: options.durationS,
      target: options.target,
      notes: [],
    });
    const lines = text.split('\n');
    expect(lines[0]).toContain('forecast of trace mine.csv (generic-csv), model llama-3.1-8b, 60 simulated s');
    expect(lines.find((l) => l.startsWith('scale'))).toMatch(/realtime SLO +internal SLO +batch SLO +bill \$ +GPU cost \$ +idle \$/);
    expect(lines.find((l) => l.startsWith('1x '))).toMatch(/^1x +30 +100\.0% +100\.0% +100\.0%/);
    expect(lines.find((l) => l.startsWith('10x '))).toMatch(/^10x +300 /);
    expect(text).toMatch(/ {2}tiny +1 +\d+\.\d% +\d+\.\d% +\d/);
    expect(text).toMatch(/ {2}acme +chat +\d+/);
    expect(text).toMatch(/capacity: to reach 99\.0% SLO attainment in every tier/);
    expect(text).toMatch(/ {4}tiny \+\d+ GPUs/);
  });
});
