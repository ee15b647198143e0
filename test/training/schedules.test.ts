import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScheduleConfig, createSchedule, decayStart, learningRate } from '../../src/training/schedules.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

function nonIncreasing(f: (s: number) => number, from: number, to: number): void {
  for (let s = from + 1; s <= to; s++) assert.ok(f(s) <= f(s - 1) + 1e-15, `lr rose at step ${s}: ${f(s - 1)} -> ${f(s)}`);
}

test('constant: warm-up reaches the peak at its last step, then stays', () => {
  const f = createSchedule({ kind: 'constant', warmupSteps: 4 }, 1e-3, 100);
  close(f(0), 0.25e-3);
  close(f(3), 1e-3);
  close(f(4), 1e-3);
  close(f(99), 1e-3);
  close(f(500), 1e-3);
  const g = createSchedule({ kind: 'constant' }, 2, 10);
  assert.equal(g(0), 2);
});

test('cosine: warm-up, peak at the start of decay, half-way at the midpoint, floor at totalSteps', () => {
  const lr = 0.01, total = 110;
  const f = createSchedule({ kind: 'cosine', warmupSteps: 10, minLrRatio: 0.1 }, lr, total);
  close(f(0), lr / 10);
  close(f(9), lr);
  close(f(10), lr); // decay starts: p = 0
  close(f(60), 0.001 + 0.009 * 0.5); // p = 0.5
  close(f(109), 0.001 + 0.009 * 0.5 * (1 + Math.cos(Math.PI * 99 / 100)));
  close(f(110), 0.001);
  close(f(1000), 0.001);
  nonIncreasing(f, 9, 200);
});

test('wsd: warm-up, stable, decay from S = total - D to the floor; every shape', () => {
  const lr = 1, total = 100;
  for (const shape of ['linear', 'cosine', '1-sqrt', 'exponential'] as const) {
    const cfg = { kind: 'wsd', warmupSteps: 5, decayShape: shape, decayFraction: 0.2, minLrRatio: shape === 'exponential' ? 0.01 : 0.05 } as const;
    const f = createSchedule(cfg, lr, total);
    const floor = cfg.minLrRatio;
    assert.equal(decayStart(ScheduleConfig.parse(cfg), total), 80);
    close(f(0), 0.2);
    close(f(4), 1);
    close(f(5), 1);
    close(f(79), 1); // last stable step
    close(f(80), 1); // first decay step, p = 0
    close(f(100), floor);
    close(f(150), floor);
    const p = 10 / 20;
    const mid = { linear: floor + (1 - floor) * (1 - p), cosine: floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * p)),
      '1-sqrt': floor + (1 - floor) * (1 - Math.sqrt(p)), exponential: Math.pow(floor, p) }[shape];
    close(f(90), mid);
    assert.ok(f(99) > floor && f(99) < f(98), `${shape}: last step above the floor and still decaying`);
    nonIncreasing(f, 4, 120);
  }
});

test('wsd: decay length in steps, and warm-up is monotone non-decreasing', () => {
  const f = createSchedule({ kind: 'wsd', warmupSteps: 10, decaySteps: 7, decayShape: 'linear' }, 3, 50);
  close(f(42), 3);
  close(f(43), 3);
  close(f(44), 3 * (1 - 1 / 7));
  close(f(50), 0);
  for (let s = 1; s < 10; s++) assert.ok(f(s) > f(s - 1));
});

test('schedules are pure: same step, same lr, any call order', () => {
  const s = ScheduleConfig.parse({ kind: 'wsd', decayFraction: 0.1 });
  const a = [5, 95, 3, 99, 95].map((k) => learningRate(s, k, 0.5, 100));
  assert.equal(a[1], a[4]);
  assert.equal(a[0], 0.5);
});

test('validation: unknown keys, missing decay length, bad exponential floor, bad steps', () => {
  assert.throws(() => ScheduleConfig.parse({ kind: 'cosine', warmup: 3 }), /warmup/);
  assert.throws(() => ScheduleConfig.parse({ kind: 'wsd' }), /exactly one of decayFraction or decaySteps/);
  assert.throws(() => ScheduleConfig.parse({ kind: 'wsd', decaySteps: 3, decayFraction: 0.1 }), /exactly one/);
  assert.throws(() => ScheduleConfig.parse({ kind: 'wsd', decaySteps: 3, decayShape: 'exponential' }), /minLrRatio must be > 0/);
  assert.throws(() => ScheduleConfig.parse({ kind: 'wsd', decaySteps: 3, decayShape: 'step' }), /decayShape|Invalid enum/);
  assert.throws(() => ScheduleConfig.parse({ kind: 'linear' }), /kind|discriminator/);
  assert.throws(() => createSchedule({ kind: 'constant', warmupSteps: 20 }, 1, 10), /exceeds totalSteps/);
  assert.throws(() => learningRate(ScheduleConfig.parse({ kind: 'constant' }), -1, 1, 10), /non-negative/);
});

test('wsd half-life decay (MiniCPM): lr halves every halfLife steps above the floor; needs halfLife, and only with that shape', () => {
  const lr = createSchedule({ kind: 'wsd', warmupSteps: 0, decayShape: 'half-life', decaySteps: 20, halfLife: 5, minLrRatio: 0 }, 1, 100);
  assert.equal(lr(79), 1);
  assert.equal(lr(80), 1);
  assert.ok(Math.abs(lr(85) - 0.5) < 1e-12 && Math.abs(lr(90) - 0.25) < 1e-12 && Math.abs(lr(99) - 0.5 ** (19 / 5)) < 1e-12);
  const floored = createSchedule({ kind: 'wsd', warmupSteps: 0, decayShape: 'half-life', decaySteps: 20, halfLife: 5, minLrRatio: 0.1 }, 1, 100);
  assert.ok(Math.abs(floored(85) - (0.1 + 0.9 * 0.5)) < 1e-12);
  assert.throws(() => ScheduleConfig.parse({ kind: 'wsd', decayShape: 'half-life', decaySteps: 20 }), /halfLife/);
  assert.throws(() => ScheduleConfig.parse({ kind: 'wsd', decayShape: 'linear', decaySteps: 20, halfLife: 5 }), /halfLife/);
});
