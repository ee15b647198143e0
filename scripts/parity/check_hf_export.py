#!/usr/bin/python3
"""Loads a windtunnel export (Hugging Face GPT-2 or LLaMA layout: config.json +
model.safetensors) into plain PyTorch modules written to the HF layouts
(scripts/fixtures/make_model_fixtures.py) and checks that PyTorch's logits match ours.

  node --import tsx scripts/parity/export-logits.ts EXPORT_DIR /tmp/ours.json
  /usr/bin/python3 scripts/parity/check_hf_export.py EXPORT_DIR /tmp/ours.json
Exits 1 when the largest difference exceeds 1e-4 relative to the logits' scale.
"""
import json, os, struct, sys
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'fixtures'))
import make_model_fixtures as ref  # noqa: E402

DT = {'F32': torch.float32, 'F64': torch.float64, 'I32': torch.int32}


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == '__metadata__':
            continue
        a, b = h['data_offsets']
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=DT[h['dtype']]).reshape(h['shape']).clone()
    return out


def build(cfg):
    if cfg['model_type'] == 'gpt2':
        model = ref.GPT2(cfg)
        if cfg.get('activation_function') == 'gelu':  # exact erf GELU instead of gelu_new
            for block in model.h:
                block.mlp.forward = (lambda m: (lambda x: m.c_proj(F.gelu(m.c_fc(x)))))(block.mlp)
        return model
    if cfg['model_type'] == 'llama':
        return ref.LlamaForCausalLM(cfg)
    raise SystemExit(f"unsupported model_type {cfg['model_type']}")


def main():
    export_dir, ours_path = sys.argv[1], sys.argv[2]
    cfg = json.load(open(os.path.join(export_dir, 'config.json')))
    model = build(cfg)
    state = {k.removeprefix('transformer.'): v for k, v in read_safetensors(os.path.join(export_dir, 'model.safetensors')).items()}
    if cfg.get('tie_word_embeddings', False):
        state.pop('lm_head.weight', None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SystemExit(f'state dict mismatch: missing {missing}, unexpected {unexpected}')
    ours = json.load(open(ours_path))
    ids = torch.tensor(ours['ids'], dtype=torch.int64).reshape(ours['shape'])
    with torch.no_grad():
        theirs = model(ids).reshape(-1)
    mine = torch.tensor(ours['logits'], dtype=torch.float32)
    diff = (theirs - mine).abs().max().item()
    scale = theirs.abs().max().item()
    print(f"{cfg['model_type']}: {mine.numel()} logits, max |diff| {diff:.3e}, max |logit| {scale:.3e}, relative {diff / scale:.3e}")
    sys.exit(0 if diff <= 1e-4 * max(scale, 1.0) else 1)


if __name__ == '__main__':
    main()
