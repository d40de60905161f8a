import { describe, expect, it } from 'vitest';
import { GPU_PROFILE_FILES, loadProfiles } from '../load-profiles.js';
import type { GpuType } from '../load-profiles.js';
import { createPerfModel } from './perf-model.js';
import type { PerfModel } from './perf-model.js';
import { parseProfileCsv, parseProfileMeta } from './profile-table.js';
import type { ProfileRow } from './profile-table.js';

const profiles = await loadProfiles();
const gpus = Object.keys(GPU_PROFILE_FILES) as GpuType[];
const EIGHT_B = 'llama-3.1-8b';
const TP4 = 'llama-3.1-70b-tp4';

type Phase = ProfileRow['phase'];

const model = (gpu: GpuType, name: string, rows: readonly ProfileRow[] = profiles[gpu].rows): PerfModel => createPerfModel(rows, profiles[gpu].meta, name);
const rowsOf = (gpu: GpuType, name: string, phase: Phase): ProfileRow[] => profiles[gpu].rows.filter((r) => r.model === name && r.phase === phase);
/** The measured median of one table row, so expectations come from the data, not literals. */
const measured = (gpu: GpuType, name: string, phase: Phase, batch: number, context: number, newTokens?: number): number => {
  const row = rowsOf(gpu, name, phase).find((r) => r.batch === batch && r.context === context && (newTokens === undefined || r.newTokens === newTokens));
  if (row === undefined) throw new Error(`no ${phase} row ${batch}/${context}/${newTokens} for ${name} on ${gpu}`);
  return row.ms;
};
/** The measured (shard) time the model predicts for a row's step, without the modelled all-reduce. */
const predictShard = (m: PerfModel, r: ProfileRow): number => {
  if (r.phase === 'prefill') return m.prefillMs(r.context) - m.allReduceMs(r.context);
  if (r.phase === 'decode') return m.decodeMs(r.batch, r.context) - m.allReduceMs(r.batch);
  return m.mixedMs(r.batch, r.newTokens - r.batch, r.context) - m.allReduceMs(r.newTokens);
};

describe('leave-one-out over the measured grid', () => {
  // A point is held out only where measurements lie on both sides of it along the axis the model
  // interpolates, because an edge point would test extrapolation, not interpolation:
  // - prefill: tokens 32 and 8192 (ends of the axis) are excluded;
  // - decode: batch 1 and the largest batch of each context row are excluded (rows are curves
  //   over batch); "decode-ctx" then holds out whole interior context rows (512..4096) to test the
  //   interpolation across context;
  // - mixed: chunk 2048 (last) is excluded; chunk 128 is interior because the chunk-0 node comes
  //   from the decode table; "mixed-batch" holds out whole interior batch rows (8, 32). Batch 1 is
  //   not held out: its lower neighbour would be the batch-0 (prefill) row, and the first decode
  //   sequence is a jump, not a trend (8B on H100: +2.3 ms from 0 to 1, +0.5 ms from 1 to 8), which
  //   no interpolation across 0..8 can recover and which the simulator never needs, batches being whole.
  const interior = (xs: number[], x: number): boolean => xs.some((v) => v < x) && xs.some((v) => v > x);
  const cases = (rows: ProfileRow[]): Array<{ label: string; held: ProfileRow[] }> => {
    const by = (phase: Phase): ProfileRow[] => rows.filter((r) => r.phase === phase);
    const prefill = by('prefill');
    const decode = by('decode');
    const mixed = by('mixed');
    const decodeContexts = [...new Set(decode.map((r) => r.context))];
    const mixedBatches = [...new Set(mixed.map((r) => r.batch))];
    const chunk = (r: ProfileRow): number => r.newTokens - r.batch;
    const one = (label: string) => (r: ProfileRow) => ({ label, held: [r] });
    return [
      ...prefill
        .filter((r) =>
          interior(
            prefill.map((p) => p.context),
            r.context,
          ),
        )
        .map(one('prefill')),
      ...decode
        .filter((r) =>
          interior(
            decode.filter((d) => d.context === r.context).map((d) => d.batch),
            r.batch,
          ),
        )
        .map(one('decode')),
      ...decodeContexts.filter((c) => interior(decodeContexts, c)).map((c) => ({ label: 'decode-ctx', held: decode.filter((r) => r.context === c) })),
      ...mixed.filter((r) => interior([0, ...mixed.filter((m) => m.batch === r.batch).map(chunk)], chunk(r))).map(one('mixed')),
      ...mixedBatches.filter((b) => interior(mixedBatches, b)).map((b) => ({ label: 'mixed-batch', held: mixed.filter((r) => r.batch === b) })),
    ];
  };

  it('predicts every held-out interior point within 10 %', () => {
    const table: string[] = [];
    const failures: string[] = [];
    for (const gpu of gpus) {
      for (const name of Object.keys(profiles[gpu].meta.models)) {
        const rows = profiles[gpu].rows.filter((r) => r.model === name);
        const errors = new Map<string, number[]>();
        for (const { label, held } of cases(rows)) {
          const m = model(
            gpu,
            name,
            rows.filter((r) => !held.includes(r)),
          );
          for (const r of held) {
            const err = Math.abs(predictShard(m, r) / r.ms - 1);
            errors.set(label, [...(errors.get(label) ?? []), err]);
            if (err > 0.1) {
              failures.push(`${gpu} ${name} ${label} b=${r.batch} ctx=${r.context} new=${r.newTokens}: ${(err * 100).toFixed(1)} %`);
            }
          }
        }
        for (const [label, errs] of errors) {
          const sorted = errs.sort((a, b) => a - b);
          const pct = (v: number): string => `${(v * 100).toFixed(2)} %`.padStart(8);
          const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
          const n = String(sorted.length).padStart(3);
          table.push(`${gpu.padEnd(11)} ${name.padEnd(18)} ${label.padEnd(12)} ${n} ${pct(median)} ${pct(sorted.at(-1)!)}`);
        }
      }
    }
    console.log(['gpu         model              phase          n   median    worst', ...table].join('\n'));
    expect(table.length).toBe(gpus.length * 3 * 5);
    expect(failures).toEqual([]);
  });
});

describe('batching', () => {
  it('8B on H100 decodes > 20x the tokens/s at batch 64 than at batch 1, as the table says', () => {
    const m = model('h100-80gb', EIGHT_B);
    const tokensPerS = (b: number): number => (b / m.decodeMs(b, 1024)) * 1000;
    const rawStep = (b: number): number => measured('h100-80gb', EIGHT_B, 'decode', b, 1024);
    const raw = 64 / rawStep(64) / (1 / rawStep(1));
    expect(tokensPerS(64) / tokensPerS(1)).toBeGreaterThan(20);
    expect(tokensPerS(64) / tokensPerS(1) / raw).toBeCloseTo(1, 9);
    // Off the grid, throughput keeps rising with batch and the step time stays between its corners.
    expect(tokensPerS(48)).toBeGreaterThan(tokensPerS(32));
    expect(tokensPerS(48)).toBeLessThan(tokensPerS(64));
    const step = m.decodeMs(48, 1536);
    expect(step).toBeGreaterThan(measured('h100-80gb', EIGHT_B, 'decode', 32, 1024));
    expect(step).toBeLessThan(measured('h100-80gb', EIGHT_B, 'decode', 64, 2048));
  });

  it('extrapolates beyond the grid upwards and never below zero', () => {
    for (const gpu of gpus) {
      const m = model(gpu, EIGHT_B);
      expect(m.decodeMs(512, 1024)).toBeGreaterThan(m.decodeMs(128, 1024));
      expect(m.decodeMs(128, 4096)).toBeGreaterThan(m.decodeMs(128, 1024)); // beyond the batch x context limit
      expect(m.decodeMs(16, 32768)).toBeGreaterThan(m.decodeMs(16, 8192));
      expect(m.prefillMs(16384)).toBeGreaterThan(2 * m.prefillMs(8192) * 0.9);
      expect(m.decodeMs(1, 1)).toBeGreaterThan(0);
      expect(m.prefillMs(1)).toBeGreaterThan(0);
      expect(m.decodeMs(0, 1024)).toBe(0);
      expect(() => m.decodeMs(-1, 1024)).toThrow(/batch/);
    }
  });
});

describe('long prompts and cached context', () => {
  it('continues prefill past 8 K tokens on the parabola through the 2, 4 and 8 K measurements', () => {
    for (const gpu of gpus) {
      const m = model(gpu, EIGHT_B);
      const [t2, t4, t8] = [2048, 4096, 8192].map((x) => measured(gpu, EIGHT_B, 'prefill', 1, x));
      // The parabola through the three points, at 16 K: Lagrange form, from the data alone.
      const at = (x: number) =>
        (t2! * ((x - 4096) * (x - 8192))) / ((2048 - 4096) * (2048 - 8192)) +
        (t4! * ((x - 2048) * (x - 8192))) / ((4096 - 2048) * (4096 - 8192)) +
        (t8! * ((x - 2048) * (x - 4096))) / ((8192 - 2048) * (8192 - 4096));
      expect(m.prefillMs(8192)).toBeCloseTo(t8!, 9);
      expect(m.prefillMs(16384)).toBeCloseTo(at(16384), 6);
      expect(m.prefillMs(32768)).toBeGreaterThan(t8! + ((t8! - t4!) / 4096) * (32768 - 8192)); // dearer than the straight line
    }
  });

  it('charges a chunk after cached context what the measured curve adds, at least what it costs from empty', () => {
    const m = model('h100-80gb', EIGHT_B);
    const t = (x: number) => measured('h100-80gb', EIGHT_B, 'prefill', 1, x);
    // 4 K tokens after 4 K cached: the curve's rise from 4 K to 8 K, less 4 K from empty.
    expect(m.chunkContextMs(4096, 4096)).toBeCloseTo(t(8192) - t(4096) - t(4096), 9);
    expect(m.chunkContextMs(4096, 4096)).toBeGreaterThan(10);
    // Prefilling the second half after a cached first half costs far less than the whole prompt.
    expect(m.prefillMs(4096) + m.chunkContextMs(4096, 4096)).toBeLessThan(0.6 * m.prefillMs(8192));
    expect(m.chunkContextMs(0, 2048)).toBe(0);
    expect(m.chunkContextMs(4096, 32)).toBe(0); // a small chunk's fixed costs hide its attention
    for (const c of [512, 2048, 8192, 20_000]) expect(m.chunkContextMs(c * 2, 1024)).toBeGreaterThanOrEqual(m.chunkContextMs(c, 1024));
  });
});

describe('mixed steps', () => {
  it('8B on H100: 32 decodes + a 256-token chunk cost less together than apart', () => {
    const m = model('h100-80gb', EIGHT_B);
    const together = measured('h100-80gb', EIGHT_B, 'mixed', 32, 1024, 32 + 256);
    const apart = measured('h100-80gb', EIGHT_B, 'prefill', 1, 256) + measured('h100-80gb', EIGHT_B, 'decode', 32, 1024);
    expect(m.mixedMs(32, 256, 1024) / together).toBeCloseTo(1, 9);
    expect((m.prefillMs(256) + m.decodeMs(32, 1024)) / apart).toBeCloseTo(1, 9);
    expect(m.mixedMs(32, 256, 1024)).toBeLessThan(0.8 * (m.prefillMs(256) + m.decodeMs(32, 1024)));
  });

  it('is cheaper than apart yet dearer than either part, on and off the grid, for every model', () => {
    for (const gpu of gpus) {
      for (const name of Object.keys(profiles[gpu].meta.models)) {
        const m = model(gpu, name);
        const grid = rowsOf(gpu, name, 'mixed').map((r): [number, number, number] => [r.batch, r.newTokens - r.batch, r.context]);
        for (const [b, p, c] of [...grid, [20, 300, 3000], [200, 1500, 600]]) {
          expect(m.mixedMs(b, p, c)).toBeLessThan(m.prefillMs(p) + m.decodeMs(b, c));
          expect(m.mixedMs(b, p, c)).toBeGreaterThanOrEqual(Math.max(m.prefillMs(p), m.decodeMs(b, c)));
        }
      }
    }
  });

  it('reduces to prefill or decode at the edges and shifts with decode context like the decode table', () => {
    const m = model('h100-80gb', EIGHT_B);
    expect(m.mixedMs(0, 700, 1024)).toBe(m.prefillMs(700));
    expect(m.mixedMs(40, 0, 3000)).toBe(m.decodeMs(40, 3000));
    expect(m.mixedMs(32, 8, 1024) / m.decodeMs(32, 1024)).toBeLessThan(1.05); // no jump at chunk 0
    const shift = measured('h100-80gb', EIGHT_B, 'decode', 32, 4096) - measured('h100-80gb', EIGHT_B, 'decode', 32, 1024);
    expect(m.mixedMs(32, 256, 4096) - m.mixedMs(32, 256, 1024)).toBeCloseTo(shift, 9);
  });
});

describe('KV capacity', () => {
  it('8B on H100 holds (79.2 GiB x 0.9 - weights) / 131072 tokens, from meta', () => {
    const { meta } = profiles['h100-80gb'];
    const shape = meta.models[EIGHT_B]!;
    expect(meta.memGib).toBe(79.2);
    expect(shape.kvBytesPerToken).toBe(131072);
    const expected = Math.floor((meta.memGib * 2 ** 30 * 0.9 - shape.weightBytes) / shape.kvBytesPerToken);
    const m = model('h100-80gb', EIGHT_B);
    expect(m.kvCapacityTokens()).toBe(expected);
    expect(m.kvCapacityTokens(40)).toBe(Math.floor((40 * 2 ** 30 * 0.9 - shape.weightBytes) / shape.kvBytesPerToken));
    expect(m.kvCapacityTokens(10)).toBe(0); // weights alone do not fit
    const h200 = profiles['h200-141gb'].meta.memGib;
    const h200Expected = Math.floor((h200 * 2 ** 30 * 0.9 - shape.weightBytes) / shape.kvBytesPerToken);
    expect(model('h200-141gb', EIGHT_B).kvCapacityTokens()).toBe(h200Expected);
  });
});

describe('tensor parallelism', () => {
  it('a 70B-TP4 step costs the measured shard step plus 2 all-reduces per layer', () => {
    for (const gpu of gpus) {
      const { layers, hidden } = profiles[gpu].meta.models[TP4]!;
      expect(layers).toBe(80);
      const allReduceMs = (tokens: number): number => 2 * layers * (10e-6 + (tokens * hidden * 2) / 450e9) * 1e3;
      const m = model(gpu, TP4);
      for (const r of rowsOf(gpu, TP4, 'decode')) {
        expect(m.decodeMs(r.batch, r.context) - r.ms).toBeCloseTo(allReduceMs(r.batch), 9);
        expect(m.decodeMs(r.batch, r.context)).toBeGreaterThan(r.ms + 1.6);
      }
      const prefill8k = measured(gpu, TP4, 'prefill', 1, 8192);
      expect(m.prefillMs(8192) - prefill8k).toBeCloseTo(allReduceMs(8192), 9);
      for (const r of rowsOf(gpu, TP4, 'mixed')) {
        const step = m.mixedMs(r.batch, r.newTokens - r.batch, r.context);
        expect(step - r.ms).toBeCloseTo(allReduceMs(r.newTokens), 9);
      }
      expect(model(gpu, EIGHT_B).allReduceMs(256)).toBe(0);
    }
  });
});

describe('profile parsing', () => {
  const header = 'model,phase,batch,context,new_tokens,ms,ms_min,ms_max';
  it('names the line and column of a bad CSV value', () => {
    expect(parseProfileCsv(`${header}\nm,decode,2,128,2,7.5,7.4,7.6\n`)).toHaveLength(1);
    expect(() => parseProfileCsv(`${header}\nm,decode,2,128,2,abc,7.4,7.6`)).toThrow(/line 2: column "ms"/);
    expect(() => parseProfileCsv(`${header}\nm,train,2,128,2,7.5,7.4,7.6`)).toThrow(/column "phase"/);
  });
  it('names the profile file that cannot be read', async () => {
    await expect(loadProfiles('/nonexistent-profiles')).rejects.toThrow(/h(100-sxm-80gb|200-141gb)\.(csv|meta\.json) cannot be read/);
  });
  it('names the meta field that is wrong', () => {
    const shape = { h: 1, L: 1, nh: 1, nkv: 1, hd: 1, inter: 1, vocab: 1, kv_bytes_per_token: 1, weight_bytes: 1 };
    const valid = { gpu: 'x', mem_gib: 80, bf16_matmul_tflops: 1, copy_tb_s: 1, models: { a: shape } };
    expect(parseProfileMeta(valid).models['a']?.kvBytesPerToken).toBe(1);
    expect(() => parseProfileMeta({ ...valid, mem_gib: '80' })).toThrow(/"mem_gib"/);
    expect(() => parseProfileMeta({ ...valid, models: { a: { ...shape, L: undefined } } })).toThrow(/"models\.a\.L"/);
  });
});
