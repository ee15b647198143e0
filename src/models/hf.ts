// Hugging Face checkpoints: export to and import from the GPT-2 (GPT2LMHeadModel) and LLaMA
// (LlamaForCausalLM) layouts, as a directory with config.json and model.safetensors.
// One table per family maps each of our parameters to its HF tensors (a rename, a transpose
// for GPT-2's Conv1D [in, out] weights, a split of our fused qkv and gate/up rows for LLaMA);
// export and import both read that table, so they cannot drift apart.
//
// Our rotary embedding pairs dimensions (i, i + D/2) as HF's LlamaModel does (rotate_half),
// so q_proj/k_proj export without the row permutation that Meta's original checkpoints need.
// Configs we cannot represent (grouped-query attention, rope scaling, GPT-2's per-layer
// attention scaling, ...) are refused with a message that names the field.
//
// muP models: exportHF folds the muP multipliers into the weights (mup.ts foldMup), so the files
// are an ordinary standard-parametrization model that stock loaders (and importHF) run as is.

import { mkdirSync, readFileSync } from 'node:fs';
import { writeFileDurable } from '../base/durable.js';
import { join } from 'node:path';
import { Tensor, concat, fmtShape, noGrad, slice, toFloat, transpose } from '../engine/index.js';
import { layerPlan, mixerOptionsOf, paramSpecs, parseModelConfig, type ModelConfig, type ModelConfigInput } from './config.js';
import { mixerDef } from './mixers/index.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { Transformer, type FloatDType } from './transformer.js';
import { foldMup } from './mup.js';

export type HFFamily = 'gpt2' | 'llama';

export interface HFCheckpoint {
  /** The contents of config.json. */
  config: Record<string, unknown>;
  /** Tensors under HF names. */
  tensors: Map<string, Tensor>;
}

/** One of our parameters as HF tensors: `rows` picks a row range of ours; `transposed` is Conv1D layout. */
interface Mapping { ours: string; shape: number[]; parts: { hf: string; rows?: [number, number] }[]; transposed: boolean }

const required: Record<HFFamily, Partial<Record<keyof ModelConfig, unknown>>> = {
  gpt2: { positions: 'learned', norm: 'layernorm', mlp: 'gelu', bias: true },
  llama: { positions: 'rotary', norm: 'rmsnorm', mlp: 'swiglu' },
};

/** What stops `config` from being saved as `family`; empty when it fits. */
export function familyMismatches(config: ModelConfig, family: HFFamily): string[] {
  return [...mixerMismatches(config, family), ...Object.entries(required[family])
    .filter(([k, v]) => config[k as keyof ModelConfig] !== v)
    .map(([k, v]) => `${k} is ${JSON.stringify(config[k as keyof ModelConfig])} (${family} needs ${JSON.stringify(v)})`)];
}

/** Blocks a Hugging Face (or llama.cpp) model of this family cannot hold: only dense attention followed by an MLP. */
function mixerMismatches(c: ModelConfig, family: HFFamily): string[] {
  const out: string[] = [];
  const plan = layerPlan(c);
  const other = [...new Set(plan.flatMap((l) => (l.mixer && l.mixer !== 'attention' ? [l.mixer] : [])))];
  if (other.length) out.push(`mixer ${other.map((m) => `"${m}"`).join(', ')} in layers "${c.layers}" (${family} has softmax attention only)`);
  if (plan.some((l) => !l.mixer || !l.mlp)) out.push(`layers "${c.layers}" has blocks without a mixer or an MLP (${family} needs both in every block)`);
  if (plan.some((l) => l.mixer === 'attention') && !mixerDef('attention').exportable(mixerOptionsOf(c, 'attention'))) {
    out.push(`attention options ${JSON.stringify(mixerOptionsOf(c, 'attention'))} (${family} has dense causal attention only)`);
  }
  return out;
}

/** The family a config belongs to: positions decide, then every other requirement is checked. */
export function hfFamilyOf(config: ModelConfig, family?: HFFamily): HFFamily {
  const f = family ?? (config.positions === 'learned' ? 'gpt2' : 'llama');
  const bad = familyMismatches(config, f);
  if (bad.length) throw new Error(`cannot save this model in the Hugging Face ${f} format: ${bad.join('; ')}`);
  return f;
}

function mappings(c: ModelConfig, family: HFFamily): Mapping[] {
  const C = c.dModel, F = c.dMlp;
  const shapes = new Map(paramSpecs(c).map((s) => [s.name, s.shape]));
  const out: Mapping[] = [];
  const add = (ours: string, parts: Mapping['parts'], transposed = false) => {
    const shape = shapes.get(ours);
    if (shape) out.push({ ours, shape, parts, transposed });
  };
  const same = (ours: string, hf: string) => { add(`${ours}.weight`, [{ hf: `${hf}.weight` }]); add(`${ours}.bias`, [{ hf: `${hf}.bias` }]); };
  if (family === 'gpt2') {
    const conv1d = (ours: string, hf: string) => { add(`${ours}.weight`, [{ hf: `${hf}.weight` }], true); add(`${ours}.bias`, [{ hf: `${hf}.bias` }]); };
    add('wte.weight', [{ hf: 'wte.weight' }]);
    add('wpe.weight', [{ hf: 'wpe.weight' }]);
    for (let i = 0; i < c.nLayer; i++) {
      const p = `blocks.${i}`, h = `h.${i}`;
      same(`${p}.ln1`, `${h}.ln_1`);
      conv1d(`${p}.attn.qkv`, `${h}.attn.c_attn`);
      conv1d(`${p}.attn.proj`, `${h}.attn.c_proj`);
      same(`${p}.ln2`, `${h}.ln_2`);
      conv1d(`${p}.mlp.fc`, `${h}.mlp.c_fc`);
      conv1d(`${p}.mlp.proj`, `${h}.mlp.c_proj`);
    }
    same('ln_final', 'ln_f');
  } else {
    const rowsOf = (ours: string, hfs: string[], n: number) => {
      for (const kind of ['weight', 'bias']) add(`${ours}.${kind}`, hfs.map((hf, j) => ({ hf: `${hf}.${kind}`, rows: [j * n, (j + 1) * n] as [number, number] })));
    };
    add('wte.weight', [{ hf: 'model.embed_tokens.weight' }]);
    for (let i = 0; i < c.nLayer; i++) {
      const p = `blocks.${i}`, h = `model.layers.${i}`;
      same(`${p}.ln1`, `${h}.input_layernorm`);
      rowsOf(`${p}.attn.qkv`, ['q_proj', 'k_proj', 'v_proj'].map((n) => `${h}.self_attn.${n}`), C);
      same(`${p}.attn.proj`, `${h}.self_attn.o_proj`);
      same(`${p}.ln2`, `${h}.post_attention_layernorm`);
      rowsOf(`${p}.mlp.fc`, ['gate_proj', 'up_proj'].map((n) => `${h}.mlp.${n}`), F);
      same(`${p}.mlp.proj`, `${h}.mlp.down_proj`);
    }
    same('ln_final', 'model.norm');
  }
  add('lm_head.weight', [{ hf: 'lm_head.weight' }]);
  return out;
}

function hfShape(m: Mapping, part: Mapping['parts'][number]): number[] {
  const s = [...m.shape];
  if (part.rows) s[0] = part.rows[1] - part.rows[0];
  return m.transposed ? [s[1], s[0]] : s;
}

function hfConfig(c: ModelConfig, family: HFFamily, dtype: string): Record<string, unknown> {
  if (family === 'gpt2') {
    return {
      architectures: ['GPT2LMHeadModel'], model_type: 'gpt2',
      vocab_size: c.vocabSize, n_positions: c.nCtx, n_ctx: c.nCtx, n_embd: c.dModel, n_layer: c.nLayer, n_head: c.nHead,
      n_inner: c.dMlp, activation_function: c.geluApproximate === 'tanh' ? 'gelu_new' : 'gelu',
      layer_norm_epsilon: c.normEps, resid_pdrop: c.dropout, embd_pdrop: c.dropout, attn_pdrop: 0,
      initializer_range: c.initStd, scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false,
      reorder_and_upcast_attn: false, tie_word_embeddings: c.tiedEmbeddings, use_cache: true, torch_dtype: dtype,
    };
  }
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama',
    vocab_size: c.vocabSize, hidden_size: c.dModel, intermediate_size: c.dMlp, num_hidden_layers: c.nLayer,
    num_attention_heads: c.nHead, num_key_value_heads: c.nHead, head_dim: c.dHead, hidden_act: 'silu',
    max_position_embeddings: c.nCtx, rms_norm_eps: c.normEps, rope_theta: c.ropeTheta, rope_scaling: null,
    attention_bias: c.bias, mlp_bias: c.bias, attention_dropout: 0, pretraining_tp: 1,
    tie_word_embeddings: c.tiedEmbeddings, initializer_range: c.initStd, use_cache: true, torch_dtype: dtype,
  };
}

/**
 * Our parameters (or anything shaped like them: gradients, optimizer moments) under HF names.
 * The family defaults to the one the config's positions imply. A pure rename: it does not fold
 * muP's multipliers (exportHF does, through foldMup), so muP weights given here as they are would
 * not reproduce the model's logits in a stock loader.
 */
export function toHF(config: ModelConfig, params: Map<string, Tensor>, family?: HFFamily): HFCheckpoint {
  const f = hfFamilyOf(config, family);
  const tensors = new Map<string, Tensor>();
  noGrad(() => {
    for (const m of mappings(config, f)) {
      const t = params.get(m.ours);
      if (!t) throw new Error(`toHF: ${m.ours} is missing`);
      if (t.shape.some((s, i) => s !== m.shape[i]) || t.ndim !== m.shape.length) throw new Error(`toHF: ${m.ours} is ${fmtShape(t.shape)}, expected ${fmtShape(m.shape)}`);
      for (const part of m.parts) {
        let x = part.rows ? slice(t, 0, part.rows[0], part.rows[1]) : t;
        x = m.transposed ? transpose(x) : part.rows ? x : x.clone();
        tensors.set(part.hf, new Tensor(x.data, x.shape));
      }
    }
  });
  const dtype = params.get('wte.weight')?.dtype ?? 'float32';
  return { config: hfConfig(config, f, dtype), tensors };
}

// ---- import ---------------------------------------------------------------------------

type Json = Record<string, unknown>;

function field<T>(cfg: Json, key: string, kind: 'number' | 'string' | 'boolean', fallback?: T): T {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new Error(`Hugging Face config: "${key}" is missing`);
  }
  if (typeof v !== kind) throw new Error(`Hugging Face config: "${key}" should be a ${kind}, got ${JSON.stringify(v)}`);
  return v as T;
}

function refuse(key: string, value: unknown, why: string): never {
  throw new Error(`cannot import this Hugging Face model: ${key} = ${JSON.stringify(value)}: ${why}`);
}

/** Our config for an HF config.json (GPT-2 or LLaMA), refusing what we cannot represent. */
export function configFromHF(cfg: Json): { config: ModelConfig; family: HFFamily } {
  const type = cfg.model_type;
  if (type === 'gpt2') {
    const act = field<string>(cfg, 'activation_function', 'string', 'gelu_new');
    const tanhForms = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'];
    if (!tanhForms.includes(act) && act !== 'gelu') refuse('activation_function', act, `supported: ${[...tanhForms, 'gelu'].join(', ')}`);
    if (cfg.scale_attn_weights === false) refuse('scale_attn_weights', false, 'attention is always scaled by 1/sqrt(dHead) here');
    if (cfg.scale_attn_by_inverse_layer_idx === true) refuse('scale_attn_by_inverse_layer_idx', true, 'per-layer attention scaling is not supported');
    if (cfg.add_cross_attention === true) refuse('add_cross_attention', true, 'decoder-only models only');
    const C = field<number>(cfg, 'n_embd', 'number');
    const input: ModelConfigInput = {
      vocabSize: field(cfg, 'vocab_size', 'number'), nCtx: field(cfg, 'n_positions', 'number'), dModel: C,
      nLayer: field(cfg, 'n_layer', 'number'), nHead: field(cfg, 'n_head', 'number'),
      dMlp: field(cfg, 'n_inner', 'number', 4 * C), mlp: 'gelu', geluApproximate: act === 'gelu' ? 'none' : 'tanh',
      norm: 'layernorm', normEps: field(cfg, 'layer_norm_epsilon', 'number', 1e-5), positions: 'learned',
      tiedEmbeddings: field(cfg, 'tie_word_embeddings', 'boolean', true), bias: true,
      dropout: field(cfg, 'resid_pdrop', 'number', 0), initStd: field(cfg, 'initializer_range', 'number', 0.02),
      scaledResidualInit: true,
    };
    return { config: parseModelConfig(input), family: 'gpt2' };
  }
  if (type === 'llama') {
    const H = field<number>(cfg, 'num_attention_heads', 'number');
    const C = field<number>(cfg, 'hidden_size', 'number');
    const kv = field<number>(cfg, 'num_key_value_heads', 'number', H);
    if (kv !== H) refuse('num_key_value_heads', kv, `grouped-query attention is not supported (num_attention_heads is ${H})`);
    const act = field<string>(cfg, 'hidden_act', 'string', 'silu');
    if (act !== 'silu') refuse('hidden_act', act, 'SwiGLU needs "silu"');
    if (cfg.rope_scaling != null) refuse('rope_scaling', cfg.rope_scaling, 'only plain rotary embeddings are supported');
    const headDim = cfg.head_dim;
    if (headDim != null && headDim !== C / H) refuse('head_dim', headDim, `must equal hidden_size / num_attention_heads = ${C / H}`);
    const attnBias = field<boolean>(cfg, 'attention_bias', 'boolean', false), mlpBias = field<boolean>(cfg, 'mlp_bias', 'boolean', false);
    if (attnBias !== mlpBias) refuse('mlp_bias', mlpBias, `one bias switch covers attention and MLP here; attention_bias is ${attnBias}`);
    const input: ModelConfigInput = {
      vocabSize: field(cfg, 'vocab_size', 'number'), nCtx: field(cfg, 'max_position_embeddings', 'number'), dModel: C,
      nLayer: field(cfg, 'num_hidden_layers', 'number'), nHead: H, dMlp: field(cfg, 'intermediate_size', 'number'),
      mlp: 'swiglu', norm: 'rmsnorm', normEps: field(cfg, 'rms_norm_eps', 'number', 1e-6), positions: 'rotary',
      ropeTheta: field(cfg, 'rope_theta', 'number', 10000), tiedEmbeddings: field(cfg, 'tie_word_embeddings', 'boolean', false),
      bias: attnBias, initStd: field(cfg, 'initializer_range', 'number', 0.02), scaledResidualInit: false,
    };
    return { config: parseModelConfig(input), family: 'llama' };
  }
  return refuse('model_type', type, 'supported: "gpt2", "llama"');
}

/** Tensors an HF checkpoint may carry that are not parameters (causal-mask buffers, cached rotary frequencies). */
const ignorable = [/^h\.\d+\.attn\.(masked_)?bias$/, /\.rotary_emb\.inv_freq$/];

/** Our config and parameters from an HF config and its tensors (any float dtype; converted to `dtype`). */
export function fromHF(cfg: Json, hfTensors: Map<string, Tensor>, dtype: FloatDType = 'float32'): { config: ModelConfig; params: Map<string, Tensor> } {
  const { config, family } = configFromHF(cfg);
  // GPT-2 checkpoints come with or without the GPT2LMHeadModel prefix "transformer.".
  const tensors = new Map([...hfTensors].map(([k, v]) => [family === 'gpt2' ? k.replace(/^transformer\./, '') : k, v]));
  if (config.tiedEmbeddings) tensors.delete('lm_head.weight'); // HF ties it to the embedding on load
  const used = new Set<string>();
  const problems: string[] = [];
  const params = new Map<string, Tensor>();
  noGrad(() => {
    for (const m of mappings(config, family)) {
      const pieces: Tensor[] = [];
      for (const part of m.parts) {
        const t = tensors.get(part.hf);
        const want = hfShape(m, part);
        if (!t) { problems.push(`missing ${part.hf} ${fmtShape(want)}`); continue; }
        used.add(part.hf);
        if (t.ndim !== want.length || t.shape.some((s, i) => s !== want[i])) { problems.push(`${part.hf} is ${fmtShape(t.shape)}, expected ${fmtShape(want)}`); continue; }
        if (t.dtype === 'int32') { problems.push(`${part.hf} is int32, expected floats`); continue; }
        pieces.push(t.dtype !== dtype ? toFloat(t, dtype) : m.transposed ? t : t.clone()); // never alias the input
      }
      if (pieces.length !== m.parts.length) continue;
      const rows = pieces.map((x) => (m.transposed ? transpose(x) : x));
      const joined = rows.length === 1 ? rows[0] : concat(rows, 0);
      const p = new Tensor(joined.data, m.shape, true);
      p.name = m.ours;
      params.set(m.ours, p);
    }
  });
  const extra = [...tensors.keys()].filter((k) => !used.has(k) && !ignorable.some((re) => re.test(k)));
  if (extra.length) problems.push(`unexpected tensors ${extra.slice(0, 8).join(', ')}${extra.length > 8 ? ` and ${extra.length - 8} more` : ''}`);
  if (problems.length) throw new Error(`Hugging Face ${family} checkpoint does not match its config.json: ${problems.join('; ')}`);
  return { config, params };
}

// ---- directories ------------------------------------------------------------------------

/** Training-only settings HF configs lack (or store differently); kept in the safetensors metadata. */
const trainingFields = ['dropout', 'initStd', 'initScheme', 'scaledResidualInit', 'mlpRatio'] as const;

/**
 * Writes `dir`/config.json and `dir`/model.safetensors (each atomically). A muP model is written
 * as its standard-parametrization twin (foldMup); the metadata keeps the folded config, and the
 * mup section it came from under windtunnel_mup_folded (for the record: importing never re-applies it).
 */
export function exportHF(model: Transformer, dir: string, family?: HFFamily, tokens: HFSpecialTokenIds = {}): void {
  const folded = foldMup(model.config, model.params);
  const { config, tensors } = toHF(folded.config, folded.params, family);
  // Without them HF falls back to GPT-2's 50256, outside a small vocabulary.
  config.bos_token_id = tokens.bos ?? null;
  config.eos_token_id = tokens.eos ?? null;
  const metadata: Record<string, string> = { format: 'pt', windtunnel_config: JSON.stringify(folded.config) };
  if (model.config.mup) metadata.windtunnel_mup_folded = JSON.stringify(model.config.mup);
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'model.safetensors'), tensors, metadata);
  writeFileDurable(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileDurable(join(dir, 'generation_config.json'), `${JSON.stringify({
    bos_token_id: tokens.bos ?? null, eos_token_id: tokens.eos ?? null, pad_token_id: tokens.pad ?? tokens.eos ?? null,
    max_length: folded.config.nCtx,
  }, null, 2)}\n`);
}

/** Special-token ids for config.json and generation_config.json (null where absent). */
export interface HFSpecialTokenIds { bos?: number; eos?: number; pad?: number }

/** Reads a directory written by exportHF or by Hugging Face transformers (single-file safetensors). */
export function importHF(dir: string, opts: { dtype?: FloatDType } = {}): Transformer {
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Json;
  const { tensors, metadata } = readSafetensors(join(dir, 'model.safetensors'));
  const { config, params } = fromHF(cfg, tensors, opts.dtype);
  let resolved = config;
  if (metadata.windtunnel_config) {
    const saved = JSON.parse(metadata.windtunnel_config) as Partial<ModelConfig>;
    const keep = Object.fromEntries(trainingFields.filter((k) => saved[k] !== undefined).map((k) => [k, saved[k]]));
    resolved = parseModelConfig({ ...config, ...keep });
  }
  return new Transformer(resolved, { params });
}
