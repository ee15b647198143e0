// The contract every reasoning task keeps, and the options they share.

import type { Rng } from '../../base/random.js';
import type { TaskInstance } from './format.js';

export interface TaskOptions {
  /** Modulus of arithmetic and equations (a prime; default 11, as in Feng et al. 2023). */
  p: number;
  /** lis: values are 0 .. values-1 (default 10). */
  values: number;
  /** edit-distance: the alphabet of both strings (default "abc"). */
  alphabet: string;
}

/** Decimal digits of a non-negative integer. */
export const digits = (x: number): number => String(Math.max(0, Math.floor(x))).length;

export const defaultTaskOptions: TaskOptions = { p: 11, values: 10, alphabet: 'abc' };

export interface Task {
  name: string;
  description: string;
  /** What the size n counts. */
  sizeMeaning: string;
  /** Ends the prompt and every chain-of-thought step; the final answer follows the last one. */
  marker: string;
  minSize: number;
  maxSize: number;
  defaultSize: number;
  /**
   * An upper bound on the characters of any instance's chain-of-thought document (prompt, cot
   * and answer; the direct document is shorter), so a context can be chosen before drawing.
   */
  maxDocumentLength(size: number, o: TaskOptions): number;
  /** One instance of size n, drawn from rng (the task's own solver fills answer and cot). */
  generate(rng: Rng, size: number, o: TaskOptions): TaskInstance;
}
