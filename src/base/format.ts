// Number formatting shared by the command line, reports, studies and (by copy, since it runs in
// the browser) the dashboard's app.js: counts with one convention for units (K, M, B, T; three
// significant digits) and FLOP-style scientific notation.

/** 1234567 -> "1.23M", 115200 -> "115K", 42 -> "42", 12.345 -> "12.3"; null, undefined or non-finite -> `missing`. */
export function fmtCount(n: number | null | undefined, missing = '?'): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return missing;
  for (const [u, s] of [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']] as const) if (Math.abs(n) >= u) return `${+(n / u).toPrecision(3)}${s}`;
  return Number.isInteger(n) ? String(n) : String(+n.toPrecision(3));
}

/** 4.56e14 style (three significant digits); null, undefined or non-finite -> `missing`. */
export function fmtSci(n: number | null | undefined, missing = '?'): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return missing;
  return n === 0 ? '0' : n.toExponential(2).replace('e+', 'e');
}
