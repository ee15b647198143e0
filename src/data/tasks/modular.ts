// Arithmetic modulo a prime p, shared by the arithmetic and equations tasks.

export function isPrime(p: number): boolean {
  if (!Number.isInteger(p) || p < 2) return false;
  for (let d = 2; d * d <= p; d++) if (p % d === 0) return false;
  return true;
}

export const mod = (x: number, p: number): number => ((x % p) + p) % p;

/** The inverse of a (non-zero mod p) by Fermat: a^(p-2). */
export function inverse(a: number, p: number): number {
  a = mod(a, p);
  if (a === 0) throw new Error(`0 has no inverse modulo ${p}`);
  let result = 1, base = a, e = p - 2;
  while (e > 0) {
    if (e & 1) result = (result * base) % p;
    base = (base * base) % p;
    e >>= 1;
  }
  return result;
}
