// The engine on its own: tensors, ops, reverse-mode autograd.
//   node examples/tensors.mjs
import { tensor, matmul, tanh, sum, backward } from 'windtunnel';

const x = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true, name: 'x' });
const w = tensor([[0.5, -1], [0.25, 2]], undefined, { requiresGrad: true, name: 'w' });
const y = sum(tanh(matmul(x, w))); // a scalar
backward(y);
console.log('y      =', y.f[0]);
console.log('dy/dx  =', Array.from(x.grad.f));
console.log('dy/dw  =', Array.from(w.grad.f));
