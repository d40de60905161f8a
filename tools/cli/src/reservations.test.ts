import { describe, expect, it } from 'vitest';
import { formatFleetReport } from './reservations.js';

describe('switchyard fleet', () => {
  it('shows a provider pool in the fleet report as per-token, with what its tokens cost and no GPU-hours', () => {
    const pool = { provider: 'aws', capacityClass: 'reserved', provisionedGpuSeconds: 7_200, usedGpuSeconds: 1_800, utilization: 0.25 };
    const out = formatFleetReport({
      period: '2030-04',
      currency: 'USD',
      provisionedGpuSeconds: 7_200,
      usedGpuSeconds: 1_800,
      utilization: 0.25,
      idleCostMicros: 5_400_000,
      pools: [
        { ...pool, pool: 'own-h100', costBasis: 'gpu-hour', provisionedCostMicros: 7_200_000, usedCostMicros: 1_800_000, idleCostMicros: 5_400_000 },
        {
          ...pool,
          pool: 'azure-oai',
          provider: 'azure-openai',
          capacityClass: 'on-demand',
          costBasis: 'per-token',
          provisionedGpuSeconds: 0,
          usedGpuSeconds: 0,
          utilization: 0,
          provisionedCostMicros: 0,
          usedCostMicros: 5_330_000,
          idleCostMicros: 0,
        },
      ],
    });
    expect(out).toMatch(/^own-h100\s+aws\s+reserved\s+per GPU-h\s+2\.0\s+0\.5\s+25\.0%\s+7\.20\s+1\.80\s+5\.40$/m);
    expect(out).toMatch(/^azure-oai\s+azure-openai\s+on-demand\s+per-token\s+-\s+-\s+-\s+-\s+5\.33\s+-$/m);
  });
});
