// GGUF (llama.cpp's file format): export a model with its tokenizer so llama.cpp, and what is
// built on it (node-llama-cpp, ollama, phones), runs it; and a reader for the files we write.
//
// The tensors come from the Hugging Face mapping (hf.ts toHF, muP folded first as exportHF does)
// and are renamed the way llama.cpp's own HF converter renames them, so there is one table of
// our parameters and this file only knows HF -> GGUF:
//   gpt2   token_embd, position_embd, blk.N.{attn_norm, attn_qkv, attn_output, ffn_norm,
//          ffn_up, ffn_down}, output_norm, output; Conv1D weights transposed back to [out, in].
//   llama  token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm,
//          ffn_gate, ffn_up, ffn_down}, output_norm, output. llama.cpp rotates adjacent pairs
//          (2i, 2i+1) where we and HF rotate (i, i + D/2), so q and k rows are permuted within
//          each head, as the converter does.
// A tied head is written as output.weight too (every loader then finds one).
//
// Layout (version 3): magic "GGUF", version, tensor count, metadata count; metadata as
// key / type / value; tensor infos (name, dims fastest-first, type, offset); then the data,
// each tensor aligned to general.alignment (32). f16 files keep 1-D tensors (norms, biases)
// in f32, as llama.cpp's converter does.

import { readFileSync } from 'node:fs';
import { writeFileDurable } from '../base/durable.js';
import { Tensor } from '../engine/index.js';
import type { ModelConfig } from './config.js';
import { hfFamilyOf, toHF, type HFFamily } from './hf.js';
import { foldMup } from './mup.js';
import type { Transformer } from './transformer.js';

export type GGUFFloat = 'f32' | 'f16';

const ALIGN = 32;
const GGML_TYPE = { f32: 0, f16: 1 } as const;
const VT = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;

/** A metadata value with its GGUF type (arrays hold one element type). */
export type GGUFValue =
  | { type: 'u32' | 'i32' | 'f32' | 'u64' | 'f64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; of: 'string'; value: string[] }
  | { type: 'array'; of: 'i32' | 'u32' | 'f32'; value: number[] };

export interface GGUFTensor {
  name: string;
  /** Row-major shape, as ours ([out, in] for a weight); GGUF stores it reversed. */
  shape: number[];
  type: GGUFFloat;
  /** float32 values (f16 tensors are widened on read). */
  data: Float32Array;
}

/** The tokenizer as GGUF metadata wants it: byte-level BPE token strings (HF's form), merges, special ids. */
export interface GGUFTokenizer {
  tokens: string[];
  /** 1 normal, 3 control (special). */
  tokenTypes: number[];
  merges: string[];
  bos?: number;
  eos?: number;
}

// ---- f16 --------------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE half bits, round to nearest even (overflow to inf, tiny to subnormal or zero). */
export function toHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// ---- writing ----------------------------------------------------------------------------

class Bytes {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void { this.chunks.push(b); this.length += b.length; }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  i32(v: number): void { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
  u64(v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  f32(v: number): void { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
  f64(v: number): void { const b = Buffer.alloc(8); b.writeDoubleLE(v); this.push(b); }
  str(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  buffer(): Buffer { return Buffer.concat(this.chunks); }
}

function writeValue(out: Bytes, v: GGUFValue): void {
  if (v.type === 'array') {
    out.u32(VT.array);
    out.u32(VT[v.of]);
    out.u64(v.value.length);
    for (const x of v.value) writeScalar(out, v.of, x);
    return;
  }
  out.u32(VT[v.type]);
  writeScalar(out, v.type, v.value);
}

function writeScalar(out: Bytes, type: string, x: number | string | boolean): void {
  switch (type) {
    case 'u32': out.u32(x as number); break;
    case 'i32': out.i32(x as number); break;
    case 'f32': out.f32(x as number); break;
    case 'u64': out.u64(x as number); break;
    case 'f64': out.f64(x as number); break;
    case 'bool': out.push(Buffer.of(x ? 1 : 0)); break;
    case 'string': out.str(x as string); break;
    default: throw new Error(`GGUF: cannot write a ${type}`);
  }
}

const pad = (n: number) => (ALIGN - (n % ALIGN)) % ALIGN;

/** Writes a GGUF file (atomically: a temporary file renamed into place). */
export function writeGGUF(path: string, metadata: Record<string, GGUFValue>, tensors: GGUFTensor[]): void {
  const head = new Bytes();
  head.push(Buffer.from('GGUF', 'ascii'));
  head.u32(3);
  head.u64(tensors.length);
  const meta = { ...metadata, 'general.alignment': { type: 'u32', value: ALIGN } as GGUFValue };
  head.u64(Object.keys(meta).length);
  for (const [k, v] of Object.entries(meta)) { head.str(k); writeValue(head, v); }
  let offset = 0;
  const bodies: Buffer[] = [];
  for (const t of tensors) {
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`GGUF: ${t.name} has ${t.data.length} values for shape [${t.shape}]`);
    head.str(t.name);
    head.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) head.u64(d);
    head.u32(GGML_TYPE[t.type]);
    head.u64(offset);
    let body: Buffer;
    if (t.type === 'f32') body = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    else {
      const h = new Uint16Array(t.data.length);
      for (let i = 0; i < h.length; i++) h[i] = toHalf(t.data[i]);
      body = Buffer.from(h.buffer);
    }
    bodies.push(body, Buffer.alloc(pad(body.length)));
    offset += body.length + pad(body.length);
  }
  const h = head.buffer();
  // a crash never leaves a half-written model under the real name
  writeFileDurable(path, [h, Buffer.alloc(pad(h.length)), ...bodies]);
}

// ---- reading ----------------------------------------------------------------------------

export interface GGUFFile {
  version: number;
  metadata: Record<string, GGUFValue>;
  tensors: GGUFTensor[];
}

/** Reads a GGUF file with f32/f16 tensors (what writeGGUF writes; quantized types are refused). */
export function readGGUF(path: string): GGUFFile {
  const buf = readFileSync(path);
  let p = 0;
  const need = (n: number) => { if (p + n > buf.length) throw new Error(`GGUF ${path}: truncated at byte ${p}`); };
  const u32r = () => { need(4); const v = buf.readUInt32LE(p); p += 4; return v; };
  const u64r = () => { need(8); const v = Number(buf.readBigUInt64LE(p)); p += 8; return v; };
  const strr = () => { const n = u64r(); need(n); const s = buf.toString('utf8', p, p + n); p += n; return s; };
  const scalar = (t: number): number | string | boolean => {
    switch (t) {
      case VT.u8: need(1); return buf.readUInt8(p++);
      case VT.i8: need(1); return buf.readInt8(p++);
      case VT.u16: { need(2); const v = buf.readUInt16LE(p); p += 2; return v; }
      case VT.i16: { need(2); const v = buf.readInt16LE(p); p += 2; return v; }
      case VT.u32: return u32r();
      case VT.i32: { need(4); const v = buf.readInt32LE(p); p += 4; return v; }
      case VT.f32: { need(4); const v = buf.readFloatLE(p); p += 4; return v; }
      case VT.bool: need(1); return buf.readUInt8(p++) !== 0;
      case VT.string: return strr();
      case VT.u64: return u64r();
      case VT.i64: { need(8); const v = Number(buf.readBigInt64LE(p)); p += 8; return v; }
      case VT.f64: { need(8); const v = buf.readDoubleLE(p); p += 8; return v; }
      default: throw new Error(`GGUF ${path}: unknown value type ${t} at byte ${p}`);
    }
  };
  const names = Object.fromEntries(Object.entries(VT).map(([k, v]) => [v, k])) as Record<number, string>;
  if (buf.toString('ascii', 0, 4) !== 'GGUF') throw new Error(`${path} is not a GGUF file`);
  p = 4;
  const version = u32r();
  if (version !== 3) throw new Error(`GGUF ${path}: version ${version}, this reader knows 3`);
  const nTensors = u64r(), nMeta = u64r();
  const metadata: Record<string, GGUFValue> = {};
  for (let i = 0; i < nMeta; i++) {
    const key = strr();
    const t = u32r();
    if (t === VT.array) {
      const et = u32r(), n = u64r();
      const value = Array.from({ length: n }, () => scalar(et));
      metadata[key] = { type: 'array', of: names[et], value } as GGUFValue;
    } else metadata[key] = { type: names[t], value: scalar(t) } as GGUFValue;
  }
  const align = (metadata['general.alignment']?.value as number | undefined) ?? ALIGN;
  const infos: { name: string; shape: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = strr();
    const nd = u32r();
    const dims = Array.from({ length: nd }, () => u64r());
    infos.push({ name, shape: dims.reverse(), type: u32r(), offset: u64r() });
  }
  const dataStart = p + ((align - (p % align)) % align);
  const tensors = infos.map((t): GGUFTensor => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const at = dataStart + t.offset;
    if (t.type === GGML_TYPE.f32) {
      if (at + 4 * n > buf.length) throw new Error(`GGUF ${path}: ${t.name} runs past the end`);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(at + 4 * i);
      return { name: t.name, shape: t.shape, type: 'f32', data };
    }
    if (t.type === GGML_TYPE.f16) {
      if (at + 2 * n > buf.length) throw new Error(`GGUF ${path}: ${t.name} runs past the end`);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = fromHalf(buf.readUInt16LE(at + 2 * i));
      return { name: t.name, shape: t.shape, type: 'f16', data };
    }
    throw new Error(`GGUF ${path}: ${t.name} has ggml type ${t.type}; only f32 and f16 are read`);
  });
  return { version, metadata, tensors };
}

// ---- models -----------------------------------------------------------------------------

/** llama.cpp's q/k row order: within each head, rows (i, i + D/2) become (2i, 2i + 1). */
function permuteRotary(t: Tensor, nHead: number): Float32Array {
  const [rows, cols] = t.shape;
  const D = rows / nHead, half = D / 2;
  const src = t.f, out = new Float32Array(rows * cols);
  for (let h = 0; h < nHead; h++) {
    for (let s = 0; s < 2; s++) {
      for (let j = 0; j < half; j++) {
        const from = h * D + s * half + j, to = h * D + 2 * j + s;
        out.set(src.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

function ggufName(hf: string, family: HFFamily): string | null {
  const rules: [RegExp, string][] = family === 'gpt2'
    ? [
      [/^wte\.weight$/, 'token_embd.weight'], [/^wpe\.weight$/, 'position_embd.weight'],
      [/^h\.(\d+)\.ln_1\.(weight|bias)$/, 'blk.$1.attn_norm.$2'], [/^h\.(\d+)\.attn\.c_attn\.(weight|bias)$/, 'blk.$1.attn_qkv.$2'],
      [/^h\.(\d+)\.attn\.c_proj\.(weight|bias)$/, 'blk.$1.attn_output.$2'], [/^h\.(\d+)\.ln_2\.(weight|bias)$/, 'blk.$1.ffn_norm.$2'],
      [/^h\.(\d+)\.mlp\.c_fc\.(weight|bias)$/, 'blk.$1.ffn_up.$2'], [/^h\.(\d+)\.mlp\.c_proj\.(weight|bias)$/, 'blk.$1.ffn_down.$2'],
      [/^ln_f\.(weight|bias)$/, 'output_norm.$1'], [/^lm_head\.weight$/, 'output.weight'],
    ]
    : [
      [/^model\.embed_tokens\.weight$/, 'token_embd.weight'],
      [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'],
      [/^model\.layers\.(\d+)\.self_attn\.q_proj\.weight$/, 'blk.$1.attn_q.weight'],
      [/^model\.layers\.(\d+)\.self_attn\.k_proj\.weight$/, 'blk.$1.attn_k.weight'],
      [/^model\.layers\.(\d+)\.self_attn\.v_proj\.weight$/, 'blk.$1.attn_v.weight'],
      [/^model\.layers\.(\d+)\.self_attn\.o_proj\.weight$/, 'blk.$1.attn_output.weight'],
      [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
      [/^model\.layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'blk.$1.ffn_gate.weight'],
      [/^model\.layers\.(\d+)\.mlp\.up_proj\.weight$/, 'blk.$1.ffn_up.weight'],
      [/^model\.layers\.(\d+)\.mlp\.down_proj\.weight$/, 'blk.$1.ffn_down.weight'],
      [/^model\.norm\.weight$/, 'output_norm.weight'], [/^lm_head\.weight$/, 'output.weight'],
    ];
  for (const [re, to] of rules) if (re.test(hf)) return hf.replace(re, to);
  return null;
}

function modelMetadata(c: ModelConfig, family: HFFamily, name: string, float: GGUFFloat): Record<string, GGUFValue> {
  const u = (value: number): GGUFValue => ({ type: 'u32', value });
  const f = (value: number): GGUFValue => ({ type: 'f32', value });
  const a = family;
  const common: Record<string, GGUFValue> = {
    'general.architecture': { type: 'string', value: a },
    'general.name': { type: 'string', value: name },
    'general.file_type': u(float === 'f32' ? 0 : 1),
    [`${a}.context_length`]: u(c.nCtx),
    [`${a}.embedding_length`]: u(c.dModel),
    [`${a}.feed_forward_length`]: u(c.dMlp),
    [`${a}.block_count`]: u(c.nLayer),
    [`${a}.attention.head_count`]: u(c.nHead),
  };
  if (family === 'gpt2') return { ...common, 'gpt2.attention.layer_norm_epsilon': f(c.normEps) };
  return {
    ...common,
    'llama.attention.head_count_kv': u(c.nHead),
    'llama.attention.layer_norm_rms_epsilon': f(c.normEps),
    'llama.rope.dimension_count': u(c.dModel / c.nHead),
    'llama.rope.freq_base': f(c.ropeTheta),
    'llama.vocab_size': u(c.vocabSize),
  };
}

function tokenizerMetadata(tok: GGUFTokenizer, vocabSize: number): Record<string, GGUFValue> {
  // llama.cpp wants one token string per row of the embedding: pad a model wider than its tokenizer.
  const tokens = [...tok.tokens], types = [...tok.tokenTypes];
  for (let i = tokens.length; i < vocabSize; i++) { tokens.push(`<|unused_${i}|>`); types.push(5); }
  const meta: Record<string, GGUFValue> = {
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: 'gpt-2' },
    'tokenizer.ggml.tokens': { type: 'array', of: 'string', value: tokens },
    'tokenizer.ggml.token_type': { type: 'array', of: 'i32', value: types },
    'tokenizer.ggml.merges': { type: 'array', of: 'string', value: tok.merges },
    'tokenizer.ggml.add_bos_token': { type: 'bool', value: false },
    'tokenizer.ggml.add_eos_token': { type: 'bool', value: false },
  };
  if (tok.bos !== undefined) meta['tokenizer.ggml.bos_token_id'] = { type: 'u32', value: tok.bos };
  if (tok.eos !== undefined) {
    meta['tokenizer.ggml.eos_token_id'] = { type: 'u32', value: tok.eos };
    meta['tokenizer.ggml.padding_token_id'] = { type: 'u32', value: tok.eos };
  }
  return meta;
}

export interface ExportGGUFOptions {
  family?: HFFamily;
  /** Weight precision (default f32); 1-D tensors stay f32. */
  float?: GGUFFloat;
  /** general.name */
  name?: string;
}

/** Writes a model and its tokenizer as one GGUF file that llama.cpp loads (GPT-2 or LLaMA architecture). */
export function exportGGUF(model: Transformer, tokenizer: GGUFTokenizer, path: string, o: ExportGGUFOptions = {}): void {
  const float = o.float ?? 'f32';
  const folded = foldMup(model.config, model.params);
  const c = folded.config;
  const family = hfFamilyOf(c, o.family);
  if (family === 'llama' && c.bias) throw new Error('GGUF llama: this model has biases, which llama.cpp\'s llama architecture does not load');
  if (tokenizer.tokens.length > c.vocabSize) throw new Error(`GGUF: the tokenizer has ${tokenizer.tokens.length} tokens but the model only ${c.vocabSize}`);
  const { tensors: hf } = toHF(c, folded.params, family);
  const out: GGUFTensor[] = [];
  for (const [hfName, t] of hf) {
    const name = ggufName(hfName, family);
    if (!name) throw new Error(`GGUF: no llama.cpp name for ${hfName}`);
    let shape = [...t.shape];
    let data: Float32Array;
    const f = t.dtype === 'float32' ? t.f as Float32Array : Float32Array.from(t.f);
    if (family === 'gpt2' && t.ndim === 2 && /\.(attn_qkv|attn_output|ffn_up|ffn_down)\.weight$/.test(name)) {
      // HF GPT-2 keeps Conv1D weights as [in, out]; llama.cpp wants [out, in] like every other linear.
      const [r, k] = shape;
      data = new Float32Array(r * k);
      for (let i = 0; i < r; i++) for (let j = 0; j < k; j++) data[j * r + i] = f[i * k + j];
      shape = [k, r];
    } else if (family === 'llama' && /\.attn_[qk]\.weight$/.test(name)) {
      data = permuteRotary(new Tensor(f, t.shape), c.nHead);
    } else data = Float32Array.from(f);
    out.push({ name, shape, type: shape.length >= 2 ? float : 'f32', data });
  }
  if (!out.some((t) => t.name === 'output.weight')) {
    const emb = out.find((t) => t.name === 'token_embd.weight')!;
    out.push({ ...emb, name: 'output.weight' });
  }
  const metadata = { ...modelMetadata(c, family, o.name ?? 'windtunnel', float), ...tokenizerMetadata(tokenizer, c.vocabSize) };
  writeGGUF(path, metadata, out);
}
