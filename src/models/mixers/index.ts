// The mixer registry: every kind a config may name, with its layer-pattern letter. A new mixer
// is one file in this folder exporting a MixerDef, plus one line here.
//
// Letters of model.layers patterns (upper case: the mixer then an MLP; lower case: the mixer alone):
//   A attention   L linear   R retnet   G gla   M mamba2
//   S mamba   W rwkv (time mix)   K rwkvChannel (RWKV's channel mix)   P lowrank
//   F a block with only the MLP (no mixer)

import { attentionMixer } from './attention.js';
import { lowrankMixer } from './lowrank.js';
import { mambaMixer } from './mamba.js';
import { rwkvChannelMixer, rwkvMixer } from './rwkv.js';
import { glaMixer } from './gla.js';
import { linearMixer } from './linear.js';
import { mamba2Mixer } from './mamba2.js';
import { retnetMixer } from './retnet.js';
import type { MixerDef } from './types.js';

export * from './types.js';
export { attentionMixer, attentionHookNames, attentionUnfused, blockSparseLayout, attentionMask } from './attention.js';
export type { AttentionMixerOptions, BlockSparseOptions } from './attention.js';
export { mambaMixer, mambaHookNames, MambaState, type MambaOptions } from './mamba.js';
export { rwkvMixer, rwkvChannelMixer, rwkvHookNames, rwkvChannelHookNames, RwkvState, ShiftState, type RwkvOptions, type RwkvChannelOptions } from './rwkv.js';
export { lowrankMixer, lowrankHookNames, LowRankState, type LowRankOptions } from './lowrank.js';
export { linearMixer, linearHookNames, type LinearOptions } from './linear.js';
export { retnetMixer, retnetHookNames, retnetLogDecays, type RetnetOptions } from './retnet.js';
export { glaMixer, glaHookNames, type GlaOptions } from './gla.js';
export { mamba2Mixer, mamba2HookNames, mamba2Dims, type Mamba2Options } from './mamba2.js';
export { RecurrentState, causalConv, softplus, logSigmoid, eluPlusOne, recurrenceStep } from './parts.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const mixerDefs: readonly MixerDef<any>[] = [attentionMixer, linearMixer, retnetMixer, glaMixer, mamba2Mixer, mambaMixer, rwkvMixer, rwkvChannelMixer, lowrankMixer];

/** The letter of a block with an MLP and no mixer. */
export const MLP_ONLY_LETTER = 'F';

export function mixerDef(name: string): MixerDef<unknown> {
  const d = mixerDefs.find((m) => m.name === name);
  if (!d) throw new Error(`unknown mixer "${name}" (known: ${mixerDefs.map((m) => m.name).join(', ')})`);
  return d;
}

export const mixerNames = (): string[] => mixerDefs.map((m) => m.name);
