// The one owner of what a reasoning task instance looks like, as text and as data.
//
// A task instance is a prompt, an optional chain of thought, and an answer:
//   - `prompt`: the text the model is given; it always ends with the task's marker character.
//   - `cot`: (format 'cot' only) intermediate steps, each ending with the marker.
//   - `answerText`: the final answer as the model writes it (answerToText of `answer`).
//   - `answer`: the bare result (an integer; for `equations` the solution vector).
//   - `data`: the instance in structured form (per task, below).
// The document the model trains on is prompt + cot + answerText, followed by <|endoftext|>
// (which the model must also learn to write, so generation stops). The loss covers everything
// after the prompt. The final answer of any completion is the text after its last marker, up to
// the end (answerOfCompletion), so direct and chain-of-thought outputs are scored the same way.
//
// Per task (p is the modulus, default 11; * and / are the model-visible multiply and divide):
//   arithmetic      prompt "3+4*(2-5)="   cot "3+4*8=3+10="            answer 2
//                   data {"expression": "3+4*(2-5)", "p": 11}; one operator reduced per step
//   equations       prompt "2a+3b=1,4a+1b=5|"  cot "1a+7b=6,0a+1b=3|1a+0b=2,0a+1b=3|"  answer [2,3] -> "2,3"
//                   data {"coefficients": [[2,3],[4,1]], "rhs": [1,5], "p": 11}; one Gauss-Jordan
//                   column per step (pivot: the first row at or below with a non-zero entry)
//   lis             prompt "3 1 4 1 5|"   cot "1 1 2 1 3|" (dp[i]: longest strictly increasing
//                   subsequence ending at i)                   answer 3
//                   data {"sequence": [3,1,4,1,5]}
//   edit-distance   prompt "abca,bcab|"   cot "1 1 2 3;2 1 2 2;..." then "|" (rows 1..n of the
//                   Levenshtein table, row i = distances from a[0..i) to every prefix of b)
//                   answer 2;  data {"a": "abca", "b": "bcab"}
//   recall          prompt "a7 k3 z1|k a z|"  cot "k3 a7 z1|"  answer [3,7,1] -> "3,7,1"
//                   data {"pairs": [["a",7],["k",3],["z",1]], "queries": ["k","a","z"]}

export type TaskFormat = 'direct' | 'cot';
export const taskFormats: readonly TaskFormat[] = ['direct', 'cot'];

export type TaskAnswer = number | number[];

export interface TaskInstance {
  task: string;
  /** The instance's size n (operators, variables, sequence or string length). */
  size: number;
  prompt: string;
  /** The chain of thought (both formats carry it; the direct format does not show it). */
  cot: string;
  answer: TaskAnswer;
  data: Record<string, unknown>;
}

export function answerToText(answer: TaskAnswer): string {
  return Array.isArray(answer) ? answer.join(',') : String(answer);
}

/** What the model is trained to write after the prompt, in a format (without <|endoftext|>). */
export function completionText(inst: TaskInstance, format: TaskFormat): string {
  return (format === 'cot' ? inst.cot : '') + answerToText(inst.answer);
}

/** The whole document: prompt, then the completion. */
export function documentText(inst: TaskInstance, format: TaskFormat): string {
  return inst.prompt + completionText(inst, format);
}

/** The final answer of a generated completion: the text after its last marker (all of it if none). */
export function answerOfCompletion(completion: string, marker: string): string {
  const i = completion.lastIndexOf(marker);
  return (i < 0 ? completion : completion.slice(i + marker.length)).trim();
}

/** The JSON record of `tasks sample --json`: prompt, answer, cot (cot format only), data. */
export function sampleRecord(inst: TaskInstance, format: TaskFormat): Record<string, unknown> {
  return format === 'cot'
    ? { prompt: inst.prompt, answer: inst.answer, cot: inst.cot, data: inst.data }
    : { prompt: inst.prompt, answer: inst.answer, data: inst.data };
}
