// A tiny arithmetic language for a sweep's derived values ("batchSize: $tokensPerStep / model.nCtx").
// Numbers, dotted names, + - * / % ^ (also **), parentheses, unary minus and a fixed set of
// functions. Parsed once into a tree and evaluated against a lookup; no eval, no property
// access beyond the lookup, nothing but numbers in and out.
//
// Grammar (lowest precedence first):
//   expr    := term (('+' | '-') term)*
//   term    := unary (('*' | '/' | '%') unary)*
//   unary   := '-' unary | power          -2^2 is -(2^2), as in mathematics
//   power   := primary (('^' | '**') unary)?   right-associative
//   primary := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'

export type Node =
  | { kind: 'num'; value: number }
  | { kind: 'ref'; name: string }
  | { kind: 'neg'; arg: Node }
  | { kind: 'bin'; op: '+' | '-' | '*' | '/' | '%' | '^'; left: Node; right: Node }
  | { kind: 'call'; fn: string; args: Node[] };

const functions: Record<string, { arity: [number, number]; f: (...x: number[]) => number }> = {
  min: { arity: [1, Infinity], f: Math.min },
  max: { arity: [1, Infinity], f: Math.max },
  round: { arity: [1, 1], f: Math.round },
  floor: { arity: [1, 1], f: Math.floor },
  ceil: { arity: [1, 1], f: Math.ceil },
  abs: { arity: [1, 1], f: Math.abs },
  sqrt: { arity: [1, 1], f: Math.sqrt },
  exp: { arity: [1, 1], f: Math.exp },
  log: { arity: [1, 1], f: Math.log },
  log2: { arity: [1, 1], f: Math.log2 },
  log10: { arity: [1, 1], f: Math.log10 },
  pow: { arity: [2, 2], f: Math.pow },
};

export const functionNames = Object.keys(functions);

export class ExprError extends Error {
  override name = 'ExprError';
}

type Token = { t: 'num'; v: number; at: number } | { t: 'name'; v: string; at: number } | { t: 'op'; v: string; at: number };

const tokenRe = /(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|([A-Za-z_$][\w$]*(?:\.[A-Za-z_]\w*)*)|(\*\*|[-+*/%^(),])/y;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let at = 0;
  while (at < src.length) {
    if (/\s/.test(src[at])) { at++; continue; }
    tokenRe.lastIndex = at;
    const m = tokenRe.exec(src);
    if (!m) throw new ExprError(`unexpected "${src[at]}" at column ${at + 1} in "${src}"`);
    if (m[1] !== undefined) out.push({ t: 'num', v: Number(m[1]), at });
    else if (m[2] !== undefined) out.push({ t: 'name', v: m[2], at });
    else out.push({ t: 'op', v: m[3] === '**' ? '^' : m[3], at });
    at = tokenRe.lastIndex;
  }
  return out;
}

/** Parses an expression; throws ExprError naming the column of the first bad token. */
export function parseExpr(src: string): Node {
  const toks = tokenize(src);
  let i = 0;
  const peek = (): Token | undefined => toks[i];
  const fail = (what: string): never => {
    const tok = toks[i];
    throw new ExprError(tok ? `${what}, found "${tok.v}" at column ${tok.at + 1} in "${src}"` : `${what}, found the end of "${src}"`);
  };
  const isOp = (v: string): boolean => { const tok = peek(); return tok?.t === 'op' && tok.v === v; };
  const expect = (v: string): void => { if (!isOp(v)) fail(`expected "${v}"`); i++; };

  function expr(): Node {
    let left = term();
    while (isOp('+') || isOp('-')) {
      const op = toks[i++].v as '+' | '-';
      left = { kind: 'bin', op, left, right: term() };
    }
    return left;
  }
  function term(): Node {
    let left = unary();
    while (isOp('*') || isOp('/') || isOp('%')) {
      const op = toks[i++].v as '*' | '/' | '%';
      left = { kind: 'bin', op, left, right: unary() };
    }
    return left;
  }
  function unary(): Node {
    if (isOp('-')) { i++; return { kind: 'neg', arg: unary() }; }
    if (isOp('+')) { i++; return unary(); }
    return power();
  }
  function power(): Node {
    const base = primary();
    if (isOp('^')) { i++; return { kind: 'bin', op: '^', left: base, right: unary() }; }
    return base;
  }
  function primary(): Node {
    const tok = peek();
    if (tok?.t === 'num') { i++; return { kind: 'num', value: tok.v }; }
    if (tok?.t === 'name') {
      i++;
      if (!isOp('(')) return { kind: 'ref', name: tok.v };
      const fn = functions[tok.v];
      if (!fn) throw new ExprError(`unknown function "${tok.v}" in "${src}" (known: ${functionNames.join(', ')})`);
      i++;
      const args = [expr()];
      while (isOp(',')) { i++; args.push(expr()); }
      expect(')');
      if (args.length < fn.arity[0] || args.length > fn.arity[1]) {
        throw new ExprError(`${tok.v}() takes ${fn.arity[0] === fn.arity[1] ? fn.arity[0] : `${fn.arity[0]} or more`} argument(s), got ${args.length} in "${src}"`);
      }
      return { kind: 'call', fn: tok.v, args };
    }
    if (isOp('(')) { i++; const e = expr(); expect(')'); return e; }
    return fail('expected a number, a name or "("');
  }

  if (toks.length === 0) throw new ExprError('empty expression');
  const tree = expr();
  if (i < toks.length) fail('expected an operator');
  return tree;
}

/** The names an expression reads, in order of first use. */
export function references(node: Node, out: string[] = []): string[] {
  switch (node.kind) {
    case 'ref': if (!out.includes(node.name)) out.push(node.name); break;
    case 'neg': references(node.arg, out); break;
    case 'bin': references(node.left, out); references(node.right, out); break;
    case 'call': for (const a of node.args) references(a, out); break;
  }
  return out;
}

/** Evaluates a tree; `lookup` returns a name's value (and throws for unknown names). */
export function evaluate(node: Node, lookup: (name: string) => number): number {
  switch (node.kind) {
    case 'num': return node.value;
    case 'ref': return lookup(node.name);
    case 'neg': return -evaluate(node.arg, lookup);
    case 'call': return functions[node.fn].f(...node.args.map((a) => evaluate(a, lookup)));
    case 'bin': {
      const a = evaluate(node.left, lookup), b = evaluate(node.right, lookup);
      switch (node.op) {
        case '+': return a + b;
        case '-': return a - b;
        case '*': return a * b;
        case '/': return a / b;
        case '%': return a % b;
        case '^': return a ** b;
      }
    }
  }
}
